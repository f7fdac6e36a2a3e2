import { type Kysely, sql } from "kysely";

/**
 * What a user keeps with their account: addresses, saved cards (gateway token, brand, last four
 * and expiry only, never a card number) and the wishlist. Partial unique indexes make "exactly
 * one default" a database rule, not just a code path.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE addresses (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      label text NOT NULL DEFAULT '',
      full_name text NOT NULL,
      line1 text NOT NULL,
      line2 text NOT NULL DEFAULT '',
      city text NOT NULL,
      region text NOT NULL DEFAULT '',
      postal_code text NOT NULL,
      country_code text NOT NULL,
      phone text NOT NULL DEFAULT '',
      is_default boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX addresses_user ON addresses (user_id)`.execute(db);
  await sql`CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id) WHERE is_default`.execute(
    db,
  );

  await sql`
    CREATE TABLE payment_methods (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      gateway_token text NOT NULL,
      brand text NOT NULL,
      last4 char(4) NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
      exp_month smallint NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
      exp_year smallint NOT NULL,
      is_default boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (user_id, gateway_token)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX payment_methods_one_default ON payment_methods (user_id) WHERE is_default`.execute(
    db,
  );

  await sql`
    CREATE TABLE wishlist_items (
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      product_id uuid NOT NULL,
      variant_id uuid,
      added_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, product_id)
    )`.execute(db);
}
