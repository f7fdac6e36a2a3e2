import { type Kysely, sql } from "kysely";

/**
 * Stock per variant, reservations with their lines, and the adjustment audit trail. The no-
 * oversell invariant lives in CHECK constraints on `stock`, so it holds even for writes that
 * bypass the service code (a manual UPDATE, a future bug).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE stock (
      variant_id uuid PRIMARY KEY,
      product_id uuid,
      on_hand integer NOT NULL DEFAULT 0,
      reserved integer NOT NULL DEFAULT 0,
      committed integer NOT NULL DEFAULT 0,
      low_stock_threshold integer NOT NULL DEFAULT 0,
      discontinued_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT stock_on_hand_non_negative CHECK (on_hand >= 0),
      CONSTRAINT stock_reserved_non_negative CHECK (reserved >= 0),
      CONSTRAINT stock_committed_non_negative CHECK (committed >= 0),
      CONSTRAINT stock_no_oversell CHECK (reserved + committed <= on_hand),
      CONSTRAINT stock_threshold_non_negative CHECK (low_stock_threshold >= 0)
    )`.execute(db);
  await sql`CREATE INDEX stock_product_idx ON stock (product_id)`.execute(db);

  await sql`
    CREATE TABLE reservations (
      id uuid PRIMARY KEY,
      order_id uuid NOT NULL,
      status text NOT NULL CHECK (status IN
        ('RESERVED', 'REJECTED', 'RELEASED', 'EXPIRED', 'COMMITTED', 'FULFILLED')),
      expires_at timestamptz NOT NULL,
      release_reason text,
      shortages jsonb NOT NULL DEFAULT '[]',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- One reservation per order: ReserveStock is idempotent per order id.
      CONSTRAINT reservations_order_key UNIQUE (order_id)
    )`.execute(db);
  await sql`
    CREATE INDEX reservations_expiry_idx ON reservations (expires_at)
    WHERE status = 'RESERVED'`.execute(db);

  await sql`
    CREATE TABLE reservation_lines (
      reservation_id uuid NOT NULL REFERENCES reservations (id) ON DELETE CASCADE,
      variant_id uuid NOT NULL,
      quantity integer NOT NULL CHECK (quantity > 0),
      PRIMARY KEY (reservation_id, variant_id)
    )`.execute(db);

  await sql`
    CREATE TABLE adjustments (
      id uuid PRIMARY KEY,
      variant_id uuid NOT NULL,
      delta integer NOT NULL,
      on_hand_before integer NOT NULL,
      on_hand_after integer NOT NULL,
      reason text NOT NULL,
      note text NOT NULL DEFAULT '',
      actor_user_id text NOT NULL,
      idempotency_key text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT adjustments_idempotency_key UNIQUE (idempotency_key)
    )`.execute(db);
  await sql`CREATE INDEX adjustments_variant_idx ON adjustments (variant_id, created_at DESC, id DESC)`.execute(
    db,
  );
  await sql`CREATE INDEX adjustments_created_idx ON adjustments (created_at DESC, id DESC)`.execute(
    db,
  );
}

/** Drops everything `up` created. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE adjustments, reservation_lines, reservations, stock`.execute(db);
}
