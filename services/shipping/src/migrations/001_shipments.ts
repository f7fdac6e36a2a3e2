import { type Kysely, sql } from "kysely";

/** Shipments (one per order), their tracking history, and orders cancelled before booking. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE shipments (
      id uuid PRIMARY KEY,
      order_id uuid NOT NULL UNIQUE,
      user_id uuid NOT NULL,
      carrier_code text NOT NULL,
      service_level int NOT NULL,
      tracking_number text NOT NULL UNIQUE,
      status int NOT NULL,
      address jsonb NOT NULL,
      items jsonb NOT NULL,
      weight_grams bigint NOT NULL,
      cost_currency char(3) NOT NULL,
      cost_minor bigint NOT NULL,
      estimated_delivery_date text NOT NULL DEFAULT '',
      next_advance_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX shipments_due_idx ON shipments (next_advance_at)
            WHERE next_advance_at IS NOT NULL`.execute(db);
  await sql`
    CREATE TABLE tracking_events (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      shipment_id uuid NOT NULL REFERENCES shipments (id),
      status int NOT NULL,
      location text NOT NULL DEFAULT '',
      description text NOT NULL DEFAULT '',
      occurred_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX tracking_events_shipment_idx ON tracking_events (shipment_id, id)`.execute(
    db,
  );
  // An order compensated (CancelShipment) before any shipment existed: a CreateShipment that
  // arrives late for it must not book a parcel for a cancelled order.
  await sql`
    CREATE TABLE cancelled_orders (
      order_id uuid PRIMARY KEY,
      reason text NOT NULL DEFAULT '',
      cancelled_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}
