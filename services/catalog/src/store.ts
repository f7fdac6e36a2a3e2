import type { PlatformTables } from "@shopmesh/platform/platform-migrations";
import { type ColumnType, type Kysely, type Selectable, sql, type Transaction } from "kysely";
import type { Image, ProductRecord, Specification, VariantRecord } from "./domain/product.ts";

type Json<T> = ColumnType<T, string, string>;
type BigintColumn = ColumnType<string, string | bigint | number, string | bigint | number>;

interface CategoryTable {
  id: string;
  name: string;
  slug: string;
  parent_id: string | null;
  description: string;
  created_at: Date;
}

interface ProductTable {
  id: string;
  name: string;
  slug: string;
  description: string;
  brand: string;
  category_ids: string[];
  tags: string[];
  specifications: Json<Specification[]>;
  attributes: Json<Record<string, string>>;
  images: Json<Image[]>;
  active: boolean;
  rating_average: ColumnType<number, number | undefined, number>;
  rating_count: ColumnType<string, string | number | undefined, string | number>;
  currency_code: string | null;
  min_price_minor: BigintColumn | null;
  max_price_minor: BigintColumn | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

interface VariantTable {
  id: string;
  product_id: string;
  sku: string;
  attributes: Json<Record<string, string>>;
  currency_code: string;
  price_minor: BigintColumn;
  compare_at_price_minor: BigintColumn | null;
  weight_grams: number;
  images: Json<Image[]>;
  active: boolean;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** The catalog database: its own tables plus the platform's outbox and inbox. */
export interface CatalogDb extends PlatformTables {
  categories: CategoryTable;
  products: ProductTable;
  variants: VariantTable;
}

/** A root handle or a transaction. */
export type Db = Kysely<CatalogDb>;
/** A transaction: every write and its outbox events share one. */
export type Trx = Transaction<CatalogDb>;

/** A category as stored. */
export interface CategoryRecord {
  id: string;
  name: string;
  slug: string;
  parentId: string | null;
  description: string;
  createdAt: Date;
}

/** Maps a products row to the domain record. */
export function toProduct(row: Selectable<ProductTable>): ProductRecord {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    description: row.description,
    brand: row.brand,
    categoryIds: row.category_ids,
    tags: row.tags,
    specifications: row.specifications,
    attributes: row.attributes,
    images: row.images,
    active: row.active,
    ratingAverage: row.rating_average,
    ratingCount: Number(row.rating_count),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toVariant(row: Selectable<VariantTable>): VariantRecord {
  return {
    id: row.id,
    productId: row.product_id,
    sku: row.sku,
    attributes: row.attributes,
    currencyCode: row.currency_code,
    priceMinor: BigInt(row.price_minor),
    compareAtPriceMinor:
      row.compare_at_price_minor === null ? null : BigInt(row.compare_at_price_minor),
    weightGrams: row.weight_grams,
    images: row.images,
    active: row.active,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toCategory(row: Selectable<CategoryTable>): CategoryRecord {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    parentId: row.parent_id,
    description: row.description,
    createdAt: row.created_at,
  };
}

function productRow(p: ProductRecord) {
  return {
    id: p.id,
    name: p.name,
    slug: p.slug,
    description: p.description,
    brand: p.brand,
    category_ids: p.categoryIds,
    tags: p.tags,
    specifications: JSON.stringify(p.specifications),
    attributes: JSON.stringify(p.attributes),
    images: JSON.stringify(p.images),
    active: p.active,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

function variantRow(v: VariantRecord) {
  return {
    id: v.id,
    product_id: v.productId,
    sku: v.sku,
    attributes: JSON.stringify(v.attributes),
    currency_code: v.currencyCode,
    price_minor: v.priceMinor.toString(),
    compare_at_price_minor:
      v.compareAtPriceMinor === null ? null : v.compareAtPriceMinor.toString(),
    weight_grams: v.weightGrams,
    images: JSON.stringify(v.images),
    active: v.active,
    created_at: v.createdAt,
    updated_at: v.updatedAt,
  };
}

/** Live (not deleted) products by id, in one query; `lock` takes them FOR UPDATE. */
export async function getProducts(
  db: Db,
  ids: readonly string[],
  lock = false,
): Promise<ProductRecord[]> {
  if (ids.length === 0) return [];
  let query = db
    .selectFrom("products")
    .selectAll()
    .where("id", "in", [...ids])
    .where("deleted_at", "is", null);
  if (lock) query = query.forUpdate();
  return (await query.execute()).map(toProduct);
}

/** A live product by slug. */
export async function getProductBySlug(db: Db, slug: string): Promise<ProductRecord | undefined> {
  const row = await db
    .selectFrom("products")
    .selectAll()
    .where("slug", "=", slug)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  return row && toProduct(row);
}

/** Live variants of the given products, oldest first, grouped by product id; one query. */
export async function getVariantsOf(
  db: Db,
  productIds: readonly string[],
): Promise<Map<string, VariantRecord[]>> {
  const byProduct = new Map<string, VariantRecord[]>(productIds.map((id) => [id, []]));
  if (productIds.length === 0) return byProduct;
  const rows = await db
    .selectFrom("variants")
    .selectAll()
    .where("product_id", "in", [...productIds])
    .where("deleted_at", "is", null)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  for (const row of rows) byProduct.get(row.product_id)?.push(toVariant(row));
  return byProduct;
}

/** Live variants by id, each with its live product, in one query. */
export async function getVariantsWithProducts(
  db: Db,
  variantIds: readonly string[],
): Promise<Map<string, { variant: VariantRecord; product: ProductRecord }>> {
  if (variantIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("variants as v")
    .innerJoin("products as p", "p.id", "v.product_id")
    .selectAll("v")
    .select(sql<Selectable<ProductTable>>`to_jsonb(p)`.as("product"))
    .where("v.id", "in", [...variantIds])
    .where("v.deleted_at", "is", null)
    .where("p.deleted_at", "is", null)
    .execute();
  return new Map(
    rows.map(({ product, ...v }) => [
      v.id,
      {
        variant: toVariant(v),
        product: toProduct({
          ...product,
          created_at: new Date(product.created_at),
          updated_at: new Date(product.updated_at),
        }),
      },
    ]),
  );
}

/** Inserts a product. A taken slug fails with the unique index products_slug_live_key. */
export async function insertProduct(trx: Trx, p: ProductRecord): Promise<void> {
  await trx.insertInto("products").values(productRow(p)).execute();
}

/** Writes a product's editable fields. */
export async function updateProduct(trx: Trx, p: ProductRecord): Promise<void> {
  const { id: _id, created_at: _c, ...fields } = productRow(p);
  await trx.updateTable("products").set(fields).where("id", "=", p.id).execute();
}

/** Writes a product's rating aggregate; false when the product does not exist (or is deleted). */
export async function setRating(
  trx: Trx,
  productId: string,
  average: number,
  count: number,
  now: Date,
): Promise<boolean> {
  const result = await trx
    .updateTable("products")
    .set({ rating_average: average, rating_count: count, updated_at: now })
    .where("id", "=", productId)
    .where("deleted_at", "is", null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Soft-deletes a product and its variants, freeing the slug and SKUs. */
export async function deleteProduct(trx: Trx, productId: string, now: Date): Promise<void> {
  await trx
    .updateTable("variants")
    .set({ deleted_at: now })
    .where("product_id", "=", productId)
    .where("deleted_at", "is", null)
    .execute();
  await trx
    .updateTable("products")
    .set({ deleted_at: now, updated_at: now })
    .where("id", "=", productId)
    .execute();
}

/** Inserts variants. A taken SKU fails with the unique index variants_sku_live_key. */
export async function insertVariants(trx: Trx, variants: readonly VariantRecord[]): Promise<void> {
  if (variants.length === 0) return;
  await trx.insertInto("variants").values(variants.map(variantRow)).execute();
}

/** Writes a variant's editable fields. */
export async function updateVariant(trx: Trx, v: VariantRecord): Promise<void> {
  const { id: _id, product_id: _p, created_at: _c, ...fields } = variantRow(v);
  await trx.updateTable("variants").set(fields).where("id", "=", v.id).execute();
}

/** Soft-deletes one variant. */
export async function deleteVariant(trx: Trx, variantId: string, now: Date): Promise<void> {
  await trx.updateTable("variants").set({ deleted_at: now }).where("id", "=", variantId).execute();
}

/** Recomputes a product's cached price range from its live active variants, and touches it. */
export async function refreshPriceRange(trx: Trx, productId: string, now: Date): Promise<void> {
  await sql`
    UPDATE products p SET updated_at = ${now},
      currency_code = r.currency_code, min_price_minor = r.min_price, max_price_minor = r.max_price
    FROM (SELECT min(currency_code) AS currency_code, min(price_minor) AS min_price,
                 max(price_minor) AS max_price
          FROM variants WHERE product_id = ${productId} AND active AND deleted_at IS NULL) r
    WHERE p.id = ${productId}`.execute(trx);
}

/** Inserts a category. A taken slug fails with categories_slug_key. */
export async function insertCategory(trx: Db, c: CategoryRecord): Promise<void> {
  await trx
    .insertInto("categories")
    .values({
      id: c.id,
      name: c.name,
      slug: c.slug,
      parent_id: c.parentId,
      description: c.description,
      created_at: c.createdAt,
    })
    .execute();
}

/** A category by id. */
export async function getCategory(db: Db, id: string): Promise<CategoryRecord | undefined> {
  const row = await db.selectFrom("categories").selectAll().where("id", "=", id).executeTakeFirst();
  return row && toCategory(row);
}

/** A category by slug. */
export async function getCategoryBySlug(db: Db, slug: string): Promise<CategoryRecord | undefined> {
  const row = await db
    .selectFrom("categories")
    .selectAll()
    .where("slug", "=", slug)
    .executeTakeFirst();
  return row && toCategory(row);
}

/** One page of categories ordered by name, then id; one extra row tells whether more follow. */
export async function listCategories(
  db: Db,
  filter: { parentId?: string; after?: { name: string; id: string }; limit: number },
): Promise<CategoryRecord[]> {
  let query = db.selectFrom("categories").selectAll();
  if (filter.parentId) query = query.where("parent_id", "=", filter.parentId);
  if (filter.after)
    query = query.where(
      sql<boolean>`(name, id) > (${filter.after.name}, ${filter.after.id}::uuid)`,
    );
  const rows = await query.orderBy("name").orderBy("id").limit(filter.limit).execute();
  return rows.map(toCategory);
}
