import { type Expression, type SqlBool, sql } from "kysely";
import { type ListCursor, type ProductSortName, sortSpec } from "./domain/listing.ts";
import type { ProductRecord } from "./domain/product.ts";
import { type Db, toProduct } from "./store.ts";

/** What a listing filters on; every field optional. */
export interface ProductFilters {
  categoryId?: string;
  brands?: string[];
  tags?: string[];
  /** Unset lists every product (admins only); handlers force true for customers. */
  active?: boolean;
  /** Only products with an active variant priced within these bounds, in this currency. */
  price?: { currencyCode: string; min?: bigint; max?: bigint };
}

/** One page of a listing. */
export interface ProductPage {
  products: ProductRecord[];
  /** Cursor after the last product, when more follow. */
  next: ListCursor | undefined;
  total: number;
}

function whereFilters(f: ProductFilters): Expression<SqlBool> {
  const parts = [sql`p.deleted_at IS NULL`];
  if (f.active !== undefined) parts.push(sql`p.active = ${f.active}`);
  if (f.brands?.length) parts.push(sql`p.brand = ANY(${f.brands}::text[])`);
  if (f.tags?.length) parts.push(sql`p.tags @> ${f.tags}::text[]`);
  if (f.categoryId) {
    parts.push(sql`p.category_ids && ARRAY(
      WITH RECURSIVE tree AS (
        SELECT id FROM categories WHERE id = ${f.categoryId}::uuid
        UNION SELECT c.id FROM categories c JOIN tree t ON c.parent_id = t.id)
      SELECT id FROM tree)`);
  }
  if (f.price) {
    const { currencyCode, min, max } = f.price;
    parts.push(sql`EXISTS (SELECT 1 FROM variants v WHERE v.product_id = p.id AND v.active
      AND v.deleted_at IS NULL AND v.currency_code = ${currencyCode}
      ${min === undefined ? sql`` : sql`AND v.price_minor >= ${min.toString()}::bigint`}
      ${max === undefined ? sql`` : sql`AND v.price_minor <= ${max.toString()}::bigint`})`);
  }
  return sql<SqlBool>`${sql.join(parts, sql` AND `)}`;
}

/**
 * One page of products in a stable total order (the sort's keys, then id) using keyset
 * pagination: the next page starts strictly after the last row's keys, so concurrent inserts
 * never make a page repeat or skip a product that was there all along. The total comes from a
 * count with the same filters.
 */
export async function listProducts(
  db: Db,
  filters: ProductFilters,
  sort: ProductSortName,
  limit: number,
  after: ListCursor | undefined,
): Promise<ProductPage> {
  const spec = sortSpec(sort);
  const dir = sql.raw(spec.direction === "asc" ? "ASC" : "DESC");
  const cmp = sql.raw(spec.direction === "asc" ? ">" : "<");
  const keyExprs = spec.keys.map((k) => sql.raw(k.expr));
  const where = whereFilters(filters);
  const keyset = after
    ? sql`AND (${sql.join(keyExprs)}, p.id) ${cmp} (${sql.join(
        spec.keys.map((k, i) => sql`${after.keys[i]}::${sql.raw(k.type)}`),
      )}, ${after.id}::uuid)`
    : sql``;
  const keyColumns = sql.join(keyExprs.map((e, i) => sql`(${e})::text AS ${sql.ref(`k${i}`)}`));
  const orderBy = sql.join([...keyExprs, sql.raw("p.id")].map((e) => sql`${e} ${dir}`));
  const [{ rows }, { rows: count }] = await Promise.all([
    sql<Record<string, unknown>>`
      SELECT p.*, ${keyColumns} FROM products p
      WHERE ${where} ${keyset}
      ORDER BY ${orderBy}
      LIMIT ${limit + 1}`.execute(db),
    sql<{ n: string }>`SELECT count(*) AS n FROM products p WHERE ${where}`.execute(db),
  ]);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    products: page.map((r) => toProduct(r as never)),
    next:
      rows.length > limit && last
        ? { keys: spec.keys.map((_, i) => String(last[`k${i}`])), id: String(last.id) }
        : undefined,
    total: Number(count[0]?.n ?? 0),
  };
}
