import { type Kysely, sql } from "kysely";

/**
 * Orders and their status history. Nested snapshots (lines, address, totals, payment, shipment,
 * saga bookkeeping) are JSONB: they are written whole and read whole with the order. The unique
 * (user_id, idempotency_key) index makes PlaceOrder idempotent even under concurrent retries,
 * and the partial index on next_attempt_at is what the saga sweeper scans.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE orders (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL,
      idempotency_key text NOT NULL,
      request_hash text NOT NULL,
      status text NOT NULL,
      payment_state text NOT NULL,
      currency_code text NOT NULL,
      total_minor bigint NOT NULL,
      items jsonb NOT NULL,
      shipping_address jsonb NOT NULL,
      service_level integer NOT NULL,
      carrier_code text NOT NULL,
      totals jsonb NOT NULL,
      payment jsonb,
      shipment jsonb,
      cancellation jsonb,
      saga jsonb NOT NULL,
      payment_token text,
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz,
      last_error text,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX orders_user_idempotency_key ON orders (user_id, idempotency_key)`.execute(
    db,
  );
  await sql`CREATE INDEX orders_user_id_idx ON orders (user_id, id DESC)`.execute(db);
  await sql`CREATE INDEX orders_status_idx ON orders (status, id DESC)`.execute(db);
  await sql`CREATE INDEX orders_due_idx ON orders (next_attempt_at) WHERE next_attempt_at IS NOT NULL`.execute(
    db,
  );
  await sql`
    CREATE TABLE order_status_history (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
      status text NOT NULL,
      note text NOT NULL,
      at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id)`.execute(
    db,
  );
}

/** Drops both tables. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE order_status_history`.execute(db);
  await sql`DROP TABLE orders`.execute(db);
}
