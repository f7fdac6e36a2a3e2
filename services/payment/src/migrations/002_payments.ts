import { type Kysely, sql } from "kysely";

/** Payments and refunds. Only gateway tokens, card brand, last four and expiry are stored. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE payments (
      id uuid PRIMARY KEY,
      order_id uuid NOT NULL,
      user_id uuid NOT NULL,
      currency_code char(3) NOT NULL,
      amount_minor bigint NOT NULL CHECK (amount_minor > 0),
      status text NOT NULL
        CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'REFUNDED', 'PARTIALLY_REFUNDED')),
      payment_token text NOT NULL,
      card_brand text,
      card_last4 char(4),
      card_exp_month int,
      card_exp_year int,
      description text NOT NULL DEFAULT '',
      gateway_reference text NOT NULL DEFAULT '',
      failure_code int,
      failure_message text,
      refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0 AND refunded_minor <= amount_minor),
      idempotency_key text NOT NULL UNIQUE,
      request_hash text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  // At most one charge per order that has taken (or may have taken) money: a PENDING charge
  // blocks a second attempt until its outcome is known, and a successful one blocks any other.
  // Failed attempts do not count, so a declined order can be charged again with another card.
  await sql`
    CREATE UNIQUE INDEX payments_one_charge_per_order ON payments (order_id)
    WHERE status <> 'FAILED'`.execute(db);
  await sql`CREATE INDEX payments_order_idx ON payments (order_id, created_at)`.execute(db);
  await sql`
    CREATE TABLE refunds (
      id uuid PRIMARY KEY,
      payment_id uuid NOT NULL REFERENCES payments (id),
      amount_minor bigint NOT NULL CHECK (amount_minor > 0),
      reason int NOT NULL,
      note text NOT NULL DEFAULT '',
      status text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
      gateway_reference text NOT NULL DEFAULT '',
      failure_code int,
      failure_message text,
      idempotency_key text NOT NULL UNIQUE,
      request_hash text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX refunds_payment_idx ON refunds (payment_id, created_at)`.execute(db);
}
