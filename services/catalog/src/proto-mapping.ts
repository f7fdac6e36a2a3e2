import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Category,
  CategorySchema,
  type Product,
  ProductSchema,
  ProductSort,
  type Variant,
  type VariantDetail,
  VariantDetailSchema,
  VariantSchema,
} from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import type { ProductSortName } from "./domain/listing.ts";
import {
  type Image,
  isPurchasable,
  type ProductRecord,
  priceRange,
  type VariantPatch,
  type VariantRecord,
} from "./domain/product.ts";
import type { CategoryRecord } from "./store.ts";

/** A domain variant as the proto's Variant. */
export function variantMessage(v: VariantRecord): Variant {
  return create(VariantSchema, {
    id: v.id,
    productId: v.productId,
    sku: v.sku,
    attributes: v.attributes,
    price: { currencyCode: v.currencyCode, amountMinor: v.priceMinor },
    ...(v.compareAtPriceMinor === null
      ? {}
      : { compareAtPrice: { currencyCode: v.currencyCode, amountMinor: v.compareAtPriceMinor } }),
    weightGrams: v.weightGrams,
    images: v.images,
    active: v.active,
    createdAt: timestampFromDate(v.createdAt),
    updatedAt: timestampFromDate(v.updatedAt),
  });
}

/** A product with the given variants as the proto's Product (price range over active ones). */
export function productMessage(p: ProductRecord, variants: readonly VariantRecord[]): Product {
  const range = priceRange(variants);
  return create(ProductSchema, {
    id: p.id,
    name: p.name,
    slug: p.slug,
    description: p.description,
    brand: p.brand,
    categoryIds: p.categoryIds,
    tags: p.tags,
    specifications: p.specifications,
    attributes: p.attributes,
    images: p.images,
    active: p.active,
    rating: { average: p.ratingAverage, count: BigInt(p.ratingCount) },
    variants: variants.map(variantMessage),
    ...(range
      ? {
          priceRange: {
            min: { currencyCode: range.currencyCode, amountMinor: range.min },
            max: { currencyCode: range.currencyCode, amountMinor: range.max },
          },
        }
      : {}),
    createdAt: timestampFromDate(p.createdAt),
    updatedAt: timestampFromDate(p.updatedAt),
  });
}

/** A variant with its product's summary. */
export function variantDetailMessage(v: VariantRecord, p: ProductRecord): VariantDetail {
  const image = v.images[0] ?? p.images[0];
  return create(VariantDetailSchema, {
    variant: variantMessage(v),
    product: {
      id: p.id,
      name: p.name,
      slug: p.slug,
      brand: p.brand,
      active: p.active,
      ...(image ? { primaryImage: image } : {}),
    },
    purchasable: isPurchasable(p, v),
  });
}

/** A category as the proto's Category. */
export function categoryMessage(c: CategoryRecord): Category {
  return create(CategorySchema, {
    id: c.id,
    name: c.name,
    slug: c.slug,
    parentId: c.parentId ?? "",
    description: c.description,
    createdAt: timestampFromDate(c.createdAt),
  });
}

/** A proto variant (from a write request) as a patch. */
export function variantPatch(v: Variant): VariantPatch {
  return {
    sku: v.sku,
    attributes: { ...v.attributes },
    price: v.price
      ? { currencyCode: v.price.currencyCode, amountMinor: v.price.amountMinor }
      : undefined,
    compareAtPrice: v.compareAtPrice
      ? { currencyCode: v.compareAtPrice.currencyCode, amountMinor: v.compareAtPrice.amountMinor }
      : undefined,
    weightGrams: v.weightGrams,
    images: v.images.map(imageOf),
    active: v.active,
  };
}

/** A proto image as a plain one. */
export function imageOf(i: { url: string; altText: string }): Image {
  return { url: i.url, altText: i.altText };
}

/** The domain sort name of a proto sort; UNSPECIFIED means RELEVANCE. */
export function sortName(sort: ProductSort): ProductSortName {
  return sort === ProductSort.UNSPECIFIED ? "RELEVANCE" : (ProductSort[sort] as ProductSortName);
}
