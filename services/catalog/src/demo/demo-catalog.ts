import type { NewProduct, NewVariant } from "../products.ts";

/** A demo category; `parent` names another demo category's slug. */
export interface DemoCategory {
  id: string;
  slug: string;
  name: string;
  parent: string | null;
  description: string;
}

/** A demo product with its variants (each carrying its initial stock). */
export interface DemoProduct {
  product: NewProduct & { id: string; createdAt: Date };
  variants: (NewVariant & { id: string })[];
}

/** mulberry32: a tiny seeded PRNG, so the same seed yields the same catalog on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE_MS = Date.UTC(2025, 0, 1);

/** A UUIDv7-shaped id whose time part is `BASE_MS + n` and whose random part comes from `rand`. */
function demoId(n: number, rand: () => number): string {
  const hex = (BASE_MS + n).toString(16).padStart(12, "0");
  const r = Array.from({ length: 20 }, () => Math.floor(rand() * 16).toString(16)).join("");
  const variant = ((Number.parseInt(r[3]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${r.slice(0, 3)}-${variant}${r.slice(4, 7)}-${r.slice(8, 20)}`;
}

interface Department {
  slug: string;
  name: string;
  subs: [slug: string, name: string][];
  brands: string[];
  nouns: string[];
  adjectives: string[];
  price: [min: number, max: number];
  options: Record<string, string[]>;
  specs: [name: string, values: string[]][];
  tags: string[];
  weight: [min: number, max: number];
}

const DEPARTMENTS: Department[] = [
  {
    slug: "electronics",
    name: "Electronics",
    subs: [
      ["laptops", "Laptops"],
      ["phones", "Phones"],
      ["audio", "Audio"],
    ],
    brands: ["Voltix", "Nimbus", "Auralis", "Kestrel"],
    nouns: ["Laptop", "Ultrabook", "Smartphone", "Headphones", "Earbuds", "Speaker"],
    adjectives: ["Pro", "Air", "Max", "Lite", "Studio", "Neo"],
    price: [4900, 249900],
    options: { storage: ["128GB", "256GB", "512GB"], color: ["Black", "Silver", "Blue"] },
    specs: [
      ["Processor", ["Octa-core 3.2 GHz", "Hexa-core 2.8 GHz"]],
      ["Battery", ["10 h", "18 h", "30 h"]],
    ],
    tags: ["gaming", "wireless", "bestseller", "new"],
    weight: [150, 2500],
  },
  {
    slug: "books",
    name: "Books",
    subs: [
      ["fiction", "Fiction"],
      ["science", "Science"],
      ["cooking", "Cooking"],
    ],
    brands: ["Harbor Press", "Quill & Co", "Northwind Books"],
    nouns: ["Chronicles", "Handbook", "Guide", "Stories", "Atlas", "Notebook"],
    adjectives: ["Silent", "Complete", "Practical", "Hidden", "Modern", "Little"],
    price: [899, 5999],
    options: { format: ["Hardcover", "Paperback", "eBook"] },
    specs: [
      ["Pages", ["224", "312", "480"]],
      ["Language", ["English"]],
    ],
    tags: ["bestseller", "award-winner", "new"],
    weight: [200, 1200],
  },
  {
    slug: "apparel",
    name: "Apparel",
    subs: [
      ["tops", "Tops"],
      ["outerwear", "Outerwear"],
      ["footwear", "Footwear"],
    ],
    brands: ["Fieldline", "Urbano", "Tidewear", "Cobalt"],
    nouns: ["T-Shirt", "Hoodie", "Jacket", "Sneakers", "Parka", "Polo"],
    adjectives: ["Classic", "Everyday", "Trail", "Organic", "Relaxed", "Storm"],
    price: [1499, 24999],
    options: { size: ["S", "M", "L", "XL"], color: ["Black", "Navy", "Olive"] },
    specs: [
      ["Material", ["100% cotton", "Recycled polyester", "Merino wool"]],
      ["Care", ["Machine wash cold"]],
    ],
    tags: ["sale", "sustainable", "new"],
    weight: [150, 1400],
  },
  {
    slug: "home",
    name: "Home",
    subs: [
      ["kitchen", "Kitchen"],
      ["lighting", "Lighting"],
      ["furniture", "Furniture"],
    ],
    brands: ["Hearth", "Lumo", "Oakridge", "Nordhem"],
    nouns: ["Lamp", "Kettle", "Chair", "Skillet", "Shelf", "Mug Set"],
    adjectives: ["Nordic", "Copper", "Compact", "Oak", "Ceramic", "Minimal"],
    price: [1299, 89999],
    options: { color: ["White", "Charcoal", "Sage"] },
    specs: [
      ["Dimensions", ["30 x 20 x 15 cm", "80 x 45 x 40 cm"]],
      ["Warranty", ["2 years", "5 years"]],
    ],
    tags: ["sale", "gift", "bestseller"],
    weight: [300, 15000],
  },
  {
    slug: "sports",
    name: "Sports",
    subs: [
      ["fitness", "Fitness"],
      ["cycling", "Cycling"],
      ["outdoor", "Outdoor"],
    ],
    brands: ["Peakform", "Velo", "Summit", "Aquila"],
    nouns: ["Yoga Mat", "Dumbbell Set", "Helmet", "Backpack", "Tent", "Water Bottle"],
    adjectives: ["Ultralight", "Pro", "Trail", "Grip", "Endurance", "Compact"],
    price: [999, 49999],
    options: { size: ["S", "M", "L"], color: ["Red", "Black"] },
    specs: [
      ["Weight class", ["Light", "Medium"]],
      ["Use", ["Indoor", "Outdoor", "All-round"]],
    ],
    tags: ["outdoor", "sale", "new"],
    weight: [200, 9000],
  },
];

const PRODUCTS_PER_DEPARTMENT = 60;

function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

/**
 * Generates the demo catalog: 5 departments with 3 sub-categories each and 300 products with
 * 1-6 variants, brands, specs, tags, prices and initial stock. Pure and deterministic: the same
 * seed always yields the same ids, slugs, SKUs and numbers, so loading it twice is a no-op.
 */
export function generateDemoCatalog(seed = 20250101): {
  categories: DemoCategory[];
  products: DemoProduct[];
} {
  const rand = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const between = (min: number, max: number) => Math.floor(min + rand() * (max - min + 1));
  let n = 0;
  const categories: DemoCategory[] = [];
  const products: DemoProduct[] = [];
  for (const dept of DEPARTMENTS) {
    categories.push({
      id: demoId(n++, rand),
      slug: dept.slug,
      name: dept.name,
      parent: null,
      description: `${dept.name} for every day.`,
    });
    const subs = dept.subs.map(([slug, name]) => {
      const c = {
        id: demoId(n++, rand),
        slug,
        name,
        parent: dept.slug,
        description: `${name} in ${dept.name}.`,
      };
      categories.push(c);
      return c;
    });
    for (let i = 0; i < PRODUCTS_PER_DEPARTMENT; i++) {
      const brand = pick(dept.brands);
      const name = `${brand} ${pick(dept.adjectives)} ${pick(dept.nouns)} ${i + 1}`;
      const slug = slugify(`${dept.slug} ${name}`);
      const productIndex = n++;
      const createdAt = new Date(BASE_MS + productIndex * 60_000);
      const sub = subs[i % subs.length]!;
      const base = Math.round(between(dept.price[0], dept.price[1]) / 100) * 100 - 1;
      const [firstOption, firstValues] = Object.entries(dept.options)[0]!;
      const second = Object.entries(dept.options)[1];
      const combos: Record<string, string>[] = [];
      for (const a of firstValues.slice(0, between(1, firstValues.length))) {
        if (!second) combos.push({ [firstOption]: a });
        else
          for (const b of second[1].slice(0, between(1, 2)))
            combos.push({ [firstOption]: a, [second[0]]: b });
      }
      const image = { url: `https://picsum.photos/seed/${slug}/800/800`, altText: name };
      const variants = combos.map((attributes, v) => {
        const price = BigInt(base + v * (dept.slug === "electronics" ? 10000 : 0));
        const onSale = rand() < 0.2;
        return {
          id: demoId(n++, rand),
          sku: `${dept.slug.slice(0, 3).toUpperCase()}-${String(i + 1).padStart(3, "0")}-${Object.values(
            attributes,
          )
            .map((x) => slugify(x).toUpperCase())
            .join("-")}`,
          attributes,
          price: { currencyCode: "USD", amountMinor: price },
          compareAtPrice: onSale
            ? { currencyCode: "USD", amountMinor: (price * 125n) / 100n }
            : undefined,
          weightGrams: between(dept.weight[0], dept.weight[1]),
          images: [],
          active: true,
          // Mostly stocked, some low, a few sold out, so every storefront state shows up.
          initialOnHand: rand() < 0.06 ? 0 : rand() < 0.15 ? between(1, 5) : between(10, 150),
        };
      });
      products.push({
        product: {
          id: demoId(productIndex, rand),
          name,
          slug,
          description: `The ${name} from ${brand}: a dependable pick in ${sub.name.toLowerCase()}.`,
          brand,
          categoryIds: [sub.id, categories.find((c) => c.slug === dept.slug)!.id],
          tags: [...new Set([pick(dept.tags), pick(dept.tags)])],
          specifications: dept.specs.map(([label, values]) => ({
            name: label,
            value: pick(values),
          })),
          attributes: { department: dept.slug },
          images: [image],
          active: rand() > 0.03,
          createdAt,
        },
        variants,
      });
    }
  }
  return { categories, products };
}
