import { type Kysely, sql } from "kysely";

/**
 * Categories, products and variants. Flexible parts (attributes, specifications, images) are
 * JSONB; slugs and SKUs are unique among live rows only, so a deleted product frees its slug.
 * products carries the price range of its active variants, kept by the store on every variant
 * write, so price filters and sorts need no join.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE categories (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      slug text NOT NULL,
      parent_id uuid REFERENCES categories (id),
      description text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL,
      CONSTRAINT categories_slug_key UNIQUE (slug)
    )`.execute(db);
  await sql`CREATE INDEX categories_parent_idx ON categories (parent_id)`.execute(db);
  await sql`CREATE INDEX categories_name_idx ON categories (name, id)`.execute(db);

  await sql`
    CREATE TABLE products (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      slug text NOT NULL,
      description text NOT NULL DEFAULT '',
      brand text NOT NULL DEFAULT '',
      category_ids uuid[] NOT NULL DEFAULT '{}',
      tags text[] NOT NULL DEFAULT '{}',
      specifications jsonb NOT NULL DEFAULT '[]',
      attributes jsonb NOT NULL DEFAULT '{}',
      images jsonb NOT NULL DEFAULT '[]',
      active boolean NOT NULL DEFAULT false,
      rating_average double precision NOT NULL DEFAULT 0,
      rating_count bigint NOT NULL DEFAULT 0,
      currency_code text,
      min_price_minor bigint,
      max_price_minor bigint,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      deleted_at timestamptz
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX products_slug_live_key ON products (slug) WHERE deleted_at IS NULL`.execute(
    db,
  );
  await sql`CREATE INDEX products_categories_idx ON products USING gin (category_ids)`.execute(db);
  await sql`CREATE INDEX products_tags_idx ON products USING gin (tags)`.execute(db);
  await sql`CREATE INDEX products_brand_idx ON products (brand)`.execute(db);
  await sql`CREATE INDEX products_newest_idx ON products (created_at DESC, id DESC) WHERE deleted_at IS NULL`.execute(
    db,
  );

  await sql`
    CREATE TABLE variants (
      id uuid PRIMARY KEY,
      product_id uuid NOT NULL REFERENCES products (id),
      sku text NOT NULL,
      attributes jsonb NOT NULL DEFAULT '{}',
      currency_code text NOT NULL,
      price_minor bigint NOT NULL CHECK (price_minor >= 0),
      compare_at_price_minor bigint,
      weight_grams integer NOT NULL DEFAULT 0 CHECK (weight_grams >= 0),
      images jsonb NOT NULL DEFAULT '[]',
      active boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      deleted_at timestamptz,
      CONSTRAINT variants_compare_at_above_price
        CHECK (compare_at_price_minor IS NULL OR compare_at_price_minor > price_minor)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX variants_sku_live_key ON variants (sku) WHERE deleted_at IS NULL`.execute(
    db,
  );
  await sql`CREATE INDEX variants_product_idx ON variants (product_id, created_at, id)`.execute(db);
}

/** Drops everything `up` created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE variants, products, categories`.execute(db);
}
