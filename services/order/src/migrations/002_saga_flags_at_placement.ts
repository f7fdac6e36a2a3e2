import { type Kysely, sql } from "kysely";

/**
 * Orders are placed recording that a charge and a shipment may be asked for (placeOrder), so
 * the saga never saves anything before those calls. Orders placed before that still have the
 * saga ahead of them without the flags: they get them here, and run as a new order does.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    UPDATE orders
    SET saga = saga || '{"chargeAttempted": true, "shipmentRequested": true}'::jsonb
    WHERE status IN ('PENDING', 'STOCK_RESERVED', 'PAID', 'CONFIRMED')
      AND NOT (saga @> '{"chargeAttempted": true, "shipmentRequested": true}'::jsonb)`.execute(db);
}
