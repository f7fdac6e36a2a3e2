import {
  AlreadyExistsError,
  FailedPreconditionError,
  NotFoundError,
} from "@shopmesh/platform/errors";
import { appendToOutbox } from "@shopmesh/platform/outbox";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import {
  applyProductUpdate,
  applyVariantUpdate,
  assertNotLastVariant,
  assertSameCurrency,
  type ProductField,
  type ProductRecord,
  type VariantField,
  type VariantPatch,
  type VariantRecord,
} from "./domain/product.ts";
import { productCreated, productDeleted, productUpdated } from "./events.ts";
import type { CategoryRecord, Db, Trx } from "./store.ts";
import * as store from "./store.ts";

/** A product as a create describes it: its writable fields, optional fixed ids (demo data). */
export type NewProduct = Omit<
  ProductRecord,
  "id" | "ratingAverage" | "ratingCount" | "createdAt" | "updatedAt"
> & {
  id?: string;
  createdAt?: Date;
};

/** A variant as a create describes it; price is required. */
export type NewVariant = Omit<VariantPatch, "price"> & {
  id?: string;
  price: { currencyCode: string; amountMinor: bigint };
  /** Initial stock hint for inventory (product.created only). */
  initialOnHand?: number;
};

const UNIQUE_MESSAGES: Record<string, string> = {
  products_slug_live_key: "a product with this slug already exists",
  variants_sku_live_key: "a variant with this SKU already exists",
  categories_slug_key: "a category with this slug already exists",
};

/** Turns a unique-index violation into ALREADY_EXISTS saying which value was taken. */
async function uniquely<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const e = err as { code?: string; constraint?: string; detail?: string };
    if (e.code === "23505" && e.constraint && UNIQUE_MESSAGES[e.constraint]) {
      throw new AlreadyExistsError(
        `${UNIQUE_MESSAGES[e.constraint]} (${e.detail ?? e.constraint})`,
      );
    }
    throw err;
  }
}

function variantRecord(productId: string, v: NewVariant, now: Date): VariantRecord {
  if (v.compareAtPrice && v.compareAtPrice.currencyCode !== v.price.currencyCode) {
    throw new FailedPreconditionError("compare_at_price must use the variant's currency");
  }
  return {
    id: v.id ?? uuidv7(now.getTime()),
    productId,
    sku: v.sku,
    attributes: v.attributes,
    currencyCode: v.price.currencyCode,
    priceMinor: v.price.amountMinor,
    compareAtPriceMinor: v.compareAtPrice?.amountMinor ?? null,
    weightGrams: v.weightGrams,
    images: v.images,
    active: v.active,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * Product, variant and category writes. Each command loads and locks what it changes, lets
 * the domain decide, then saves the rows and their product.* event in one transaction.
 */
export function createProductCommands(deps: { db: Db; now?: () => Date }) {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());

  async function loadLocked(trx: Trx, productId: string) {
    const [product] = await store.getProducts(trx, [productId], true);
    if (!product) throw new NotFoundError(`product ${productId} not found`);
    const variants = (await store.getVariantsOf(trx, [productId])).get(productId) ?? [];
    return { product, variants };
  }

  async function categoriesExist(trx: Trx, ids: readonly string[]) {
    for (const id of ids) {
      if (!(await store.getCategory(trx, id))) throw new NotFoundError(`category ${id} not found`);
    }
  }

  /** CreateProduct: the product and its first variants, and product.created. */
  function createProduct(input: NewProduct, variants: readonly NewVariant[]) {
    return uniquely(() =>
      db.transaction().execute(async (trx) => {
        const at = input.createdAt ?? now();
        const product: ProductRecord = {
          ...input,
          id: input.id ?? uuidv7(at.getTime()),
          ratingAverage: 0,
          ratingCount: 0,
          createdAt: at,
          updatedAt: at,
        };
        const records = variants.map((v) => variantRecord(product.id, v, at));
        const currency = records[0]?.currencyCode;
        if (currency) assertSameCurrency(records, currency);
        await categoriesExist(trx, product.categoryIds);
        await store.insertProduct(trx, product);
        await store.insertVariants(trx, records);
        await store.refreshPriceRange(trx, product.id, at);
        const initial: Record<string, number> = {};
        variants.forEach((v, i) => {
          if (v.initialOnHand && records[i]) initial[records[i].id] = v.initialOnHand;
        });
        await appendToOutbox(trx, productCreated(product, records, initial));
        return { product, variants: records };
      }),
    );
  }

  /** UpdateProduct: product-level fields by mask, and product.updated when anything changed. */
  function updateProduct(productId: string, patch: ProductRecord, paths: readonly ProductField[]) {
    return uniquely(() =>
      db.transaction().execute(async (trx) => {
        const current = await loadLocked(trx, productId);
        const { product, changed } = applyProductUpdate(current.product, patch, paths, now());
        if (changed.length === 0) return current;
        if (changed.includes("category_ids")) await categoriesExist(trx, product.categoryIds);
        await store.updateProduct(trx, product);
        await appendToOutbox(trx, productUpdated(product, current.variants, changed));
        return { product, variants: current.variants };
      }),
    );
  }

  /** DeleteProduct: soft delete with product.deleted; deleting a deleted product is OK. */
  async function deleteProduct(productId: string): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const [product] = await store.getProducts(trx, [productId], true);
      if (!product) return;
      const variants = (await store.getVariantsOf(trx, [productId])).get(productId) ?? [];
      const at = now();
      await store.deleteProduct(trx, productId, at);
      await appendToOutbox(
        trx,
        productDeleted(
          product,
          variants.map((v) => v.id),
          at,
        ),
      );
    });
  }

  /** Saves variant changes: price range, product touch, product.updated ["variants"]. */
  async function saveVariants(
    trx: Trx,
    product: ProductRecord,
    variants: VariantRecord[],
    at: Date,
  ) {
    await store.refreshPriceRange(trx, product.id, at);
    const touched = { ...product, updatedAt: at };
    await appendToOutbox(trx, productUpdated(touched, variants, ["variants"]));
  }

  /** AddVariant. */
  function addVariant(productId: string, input: NewVariant) {
    return uniquely(() =>
      db.transaction().execute(async (trx) => {
        const { product, variants } = await loadLocked(trx, productId);
        const at = now();
        const variant = variantRecord(productId, input, at);
        assertSameCurrency(variants, variant.currencyCode);
        await store.insertVariants(trx, [variant]);
        await saveVariants(trx, product, [...variants, variant], at);
        return variant;
      }),
    );
  }

  function findVariant(variants: VariantRecord[], variantId: string, productId: string) {
    const variant = variants.find((v) => v.id === variantId);
    if (!variant) throw new NotFoundError(`variant ${variantId} of product ${productId} not found`);
    return variant;
  }

  /** UpdateVariant by mask. */
  function updateVariant(
    productId: string,
    variantId: string,
    patch: VariantPatch,
    paths: readonly VariantField[],
  ) {
    return uniquely(() =>
      db.transaction().execute(async (trx) => {
        const { product, variants } = await loadLocked(trx, productId);
        const current = findVariant(variants, variantId, productId);
        const at = now();
        const { variant, changed } = applyVariantUpdate(current, patch, paths, at);
        if (changed.length === 0) return current;
        assertSameCurrency(
          variants.filter((v) => v.id !== variantId),
          variant.currencyCode,
        );
        await store.updateVariant(trx, variant);
        await saveVariants(
          trx,
          product,
          variants.map((v) => (v.id === variantId ? variant : v)),
          at,
        );
        return variant;
      }),
    );
  }

  /** DeleteVariant; refuses the last one. */
  function deleteVariant(productId: string, variantId: string) {
    return db.transaction().execute(async (trx) => {
      const { product, variants } = await loadLocked(trx, productId);
      findVariant(variants, variantId, productId);
      assertNotLastVariant(variants, variantId);
      const at = now();
      await store.deleteVariant(trx, variantId, at);
      await saveVariants(
        trx,
        product,
        variants.filter((v) => v.id !== variantId),
        at,
      );
    });
  }

  /** Stores a rating summary from the review service and publishes product.updated ["rating"]. */
  async function applyRating(trx: Trx, productId: string, average: number, count: number) {
    const [product] = await store.getProducts(trx, [productId], true);
    if (!product || (product.ratingAverage === average && product.ratingCount === count)) return;
    const at = now();
    await store.setRating(trx, productId, average, count, at);
    const variants = (await store.getVariantsOf(trx, [productId])).get(productId) ?? [];
    const rated = { ...product, ratingAverage: average, ratingCount: count, updatedAt: at };
    await appendToOutbox(trx, productUpdated(rated, variants, ["rating"]));
  }

  /** CreateCategory; NOT_FOUND for an unknown parent. */
  function createCategory(
    input: Omit<CategoryRecord, "id" | "createdAt"> & { id?: string },
  ): Promise<CategoryRecord> {
    return uniquely(() =>
      db.transaction().execute(async (trx) => {
        if (input.parentId && !(await store.getCategory(trx, input.parentId))) {
          throw new NotFoundError(`parent category ${input.parentId} not found`);
        }
        const at = now();
        const category = { ...input, id: input.id ?? uuidv7(at.getTime()), createdAt: at };
        await store.insertCategory(trx, category);
        return category;
      }),
    );
  }

  return {
    createProduct,
    updateProduct,
    deleteProduct,
    addVariant,
    updateVariant,
    deleteVariant,
    applyRating,
    createCategory,
  };
}

/** The catalog's write commands. */
export type ProductCommands = ReturnType<typeof createProductCommands>;
