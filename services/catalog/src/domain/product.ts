import { FailedPreconditionError } from "@shopmesh/platform/errors";

/** One line of a spec sheet. */
export interface Specification {
  name: string;
  value: string;
}

/** An image URL with its alternative text. */
export interface Image {
  url: string;
  altText: string;
}

/** A product as the catalog stores it, without its variants. */
export interface ProductRecord {
  id: string;
  name: string;
  slug: string;
  description: string;
  brand: string;
  categoryIds: string[];
  tags: string[];
  specifications: Specification[];
  attributes: Record<string, string>;
  images: Image[];
  active: boolean;
  ratingAverage: number;
  ratingCount: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A purchasable variant (SKU). Prices are minor units of `currencyCode`. */
export interface VariantRecord {
  id: string;
  productId: string;
  sku: string;
  attributes: Record<string, string>;
  currencyCode: string;
  priceMinor: bigint;
  compareAtPriceMinor: bigint | null;
  weightGrams: number;
  images: Image[];
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** A product with its live variants. */
export interface ProductWithVariants {
  product: ProductRecord;
  variants: VariantRecord[];
}

/** The product-level fields UpdateProduct may write (the proto's field-mask paths). */
export const PRODUCT_FIELDS = [
  "name",
  "slug",
  "description",
  "brand",
  "category_ids",
  "tags",
  "specifications",
  "attributes",
  "images",
  "active",
] as const;
/** One of {@link PRODUCT_FIELDS}. */
export type ProductField = (typeof PRODUCT_FIELDS)[number];

/** The variant fields UpdateVariant may write. */
export const VARIANT_FIELDS = [
  "sku",
  "attributes",
  "price",
  "compare_at_price",
  "weight_grams",
  "images",
  "active",
] as const;
/** One of {@link VARIANT_FIELDS}. */
export type VariantField = (typeof VARIANT_FIELDS)[number];

const productKey = {
  name: "name",
  slug: "slug",
  description: "description",
  brand: "brand",
  category_ids: "categoryIds",
  tags: "tags",
  specifications: "specifications",
  attributes: "attributes",
  images: "images",
  active: "active",
} as const satisfies Record<ProductField, keyof ProductRecord>;

function isEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0;
  if (value && typeof value === "object") return Object.keys(value).length === 0;
  return value === "" || value === false || value === null || value === undefined;
}

/** JSON with object keys sorted: JSONB does not keep key order, so plain JSON would differ. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

function same(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/**
 * Applies an update to a product: the fields named in `paths`, or, when `paths` is empty,
 * every field that is non-empty in `patch` (so clearing a field needs an explicit mask).
 * Returns the product after it and the fields that actually changed (for product.updated).
 */
export function applyProductUpdate(
  current: ProductRecord,
  patch: Pick<ProductRecord, (typeof productKey)[ProductField]>,
  paths: readonly ProductField[],
  now: Date,
): { product: ProductRecord; changed: ProductField[] } {
  const fields =
    paths.length > 0 ? paths : PRODUCT_FIELDS.filter((f) => !isEmpty(patch[productKey[f]]));
  const next: ProductRecord = { ...current };
  const changed: ProductField[] = [];
  for (const field of new Set(fields)) {
    const key = productKey[field];
    if (same(current[key], patch[key])) continue;
    (next as unknown as Record<string, unknown>)[key] = patch[key];
    changed.push(field);
  }
  if (changed.length > 0) next.updatedAt = now;
  return { product: next, changed };
}

/** A variant as a write describes it; `price` fields are undefined when not given. */
export interface VariantPatch {
  sku: string;
  attributes: Record<string, string>;
  price: { currencyCode: string; amountMinor: bigint } | undefined;
  compareAtPrice: { currencyCode: string; amountMinor: bigint } | undefined;
  weightGrams: number;
  images: Image[];
  active: boolean;
}

/** Applies an UpdateVariant to a variant, with the same mask rules as products. */
export function applyVariantUpdate(
  current: VariantRecord,
  patch: VariantPatch,
  paths: readonly VariantField[],
  now: Date,
): { variant: VariantRecord; changed: VariantField[] } {
  const given: Record<VariantField, boolean> = {
    sku: patch.sku !== "",
    attributes: Object.keys(patch.attributes).length > 0,
    price: patch.price !== undefined,
    compare_at_price: patch.compareAtPrice !== undefined,
    weight_grams: patch.weightGrams !== 0,
    images: patch.images.length > 0,
    active: patch.active,
  };
  const fields = paths.length > 0 ? paths : VARIANT_FIELDS.filter((f) => given[f]);
  const next: VariantRecord = { ...current };
  for (const field of new Set(fields)) {
    if (field === "sku") next.sku = patch.sku;
    if (field === "attributes") next.attributes = patch.attributes;
    if (field === "weight_grams") next.weightGrams = patch.weightGrams;
    if (field === "images") next.images = patch.images;
    if (field === "active") next.active = patch.active;
    if (field === "price" && patch.price) {
      next.currencyCode = patch.price.currencyCode;
      next.priceMinor = patch.price.amountMinor;
    }
    if (field === "compare_at_price")
      next.compareAtPriceMinor = patch.compareAtPrice?.amountMinor ?? null;
  }
  const changed = VARIANT_FIELDS.filter((f) => {
    if (f === "price")
      return next.priceMinor !== current.priceMinor || next.currencyCode !== current.currencyCode;
    if (f === "compare_at_price") return next.compareAtPriceMinor !== current.compareAtPriceMinor;
    const key = {
      sku: "sku",
      attributes: "attributes",
      weight_grams: "weightGrams",
      images: "images",
      active: "active",
    }[f] as keyof VariantRecord;
    return !same(current[key], next[key]);
  });
  if (patch.compareAtPrice && patch.compareAtPrice.currencyCode !== next.currencyCode) {
    throw new FailedPreconditionError("compare_at_price must use the variant's currency");
  }
  if (next.compareAtPriceMinor !== null && next.compareAtPriceMinor <= next.priceMinor) {
    throw new FailedPreconditionError(
      `variant ${current.id}: compare_at_price must stay above price (${next.priceMinor})`,
    );
  }
  if (changed.length > 0) next.updatedAt = now;
  return { variant: next, changed };
}

/** Refuses a variant whose currency differs from its siblings': one product, one currency. */
export function assertSameCurrency(siblings: readonly VariantRecord[], currencyCode: string): void {
  const other = siblings.find((v) => v.currencyCode !== currencyCode);
  if (other) {
    throw new FailedPreconditionError(
      `variant currency ${currencyCode} differs from the product's other variants (${other.currencyCode})`,
    );
  }
}

/** Refuses deleting a product's last variant: delete the product instead. */
export function assertNotLastVariant(siblings: readonly VariantRecord[], variantId: string): void {
  if (siblings.length === 1 && siblings[0]?.id === variantId) {
    throw new FailedPreconditionError(
      `variant ${variantId} is its product's last variant; delete the product instead`,
    );
  }
}

/** The lowest and highest price among active variants, or undefined when none is active. */
export function priceRange(
  variants: readonly VariantRecord[],
): { currencyCode: string; min: bigint; max: bigint } | undefined {
  const active = variants.filter((v) => v.active);
  const first = active[0];
  if (!first) return undefined;
  let min = first.priceMinor;
  let max = first.priceMinor;
  for (const v of active) {
    if (v.priceMinor < min) min = v.priceMinor;
    if (v.priceMinor > max) max = v.priceMinor;
  }
  return { currencyCode: first.currencyCode, min, max };
}

/** True when a variant can be bought now: it and its product are active. */
export function isPurchasable(
  product: Pick<ProductRecord, "active">,
  variant: Pick<VariantRecord, "active">,
): boolean {
  return product.active && variant.active;
}
