import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { sql } from "kysely";
import { newReservation, release } from "../src/domain/reservation.ts";
import { crossesNoBoundary } from "../src/domain/stock.ts";
import { reservationOutcomeEvent } from "../src/events.ts";
import {
  crossesNoBoundarySql,
  insertReservationWithOutbox,
  saveTransitionWithOutbox,
} from "../src/reservation-writes.ts";
import { getStocks } from "../src/store.ts";
import { type InventoryHarness, startInventory } from "./harness.ts";

// The single-statement writes decide nothing themselves: they re-check, under the row locks,
// what the command's decision rested on, and write nothing (returning false) when it no
// longer holds. These tests pin that down for each way a decision goes stale.

let h: InventoryHarness;
before(async () => {
  h = await startInventory();
});
after(() => h.close());

async function variantWith(onHand: number, reserved = 0): Promise<string> {
  const variantId = await h.variantWith(onHand);
  if (reserved > 0) {
    await sql`UPDATE stock SET reserved = ${reserved} WHERE variant_id = ${variantId}`.execute(
      h.db,
    );
  }
  return variantId;
}

async function snapshot(variantId: string, orderId: string) {
  const stock = await h.db
    .selectFrom("stock")
    .select(["on_hand", "reserved", "committed", "updated_at"])
    .where("variant_id", "=", variantId)
    .executeTakeFirst();
  const reservation = await h.db
    .selectFrom("reservations")
    .select(["status", "updated_at"])
    .where("order_id", "=", orderId)
    .executeTakeFirst();
  const events = await h.db
    .selectFrom("outbox")
    .select("event_type")
    .where("aggregate_id", "in", [variantId, orderId])
    .execute();
  return { stock, reservation, events: events.map((e) => e.event_type) };
}

function reservationFor(orderId: string, variantId: string, quantity: number) {
  return newReservation({
    id: uuidv7(),
    orderId,
    lines: [{ variantId, quantity }],
    shortages: [],
    now: new Date(),
    ttlMs: 60_000,
  });
}

const outcome = (r: ReturnType<typeof reservationFor>) =>
  reservationOutcomeEvent({
    reservation: r,
    changed: true,
    previousStatus: r.status,
    effect: { onHand: 0, reserved: 0, committed: 0 },
  });

describe("guarded single-statement writes", () => {
  it("the SQL boundary rule agrees with the domain's for every small count, change and threshold", async () => {
    const { rows } = await sql<{
      available: number;
      delta: number;
      threshold: number;
      clear: boolean;
    }>`
      SELECT a AS available, d AS delta, t AS threshold,
             ${crossesNoBoundarySql(sql`a`, sql`d`, sql`t`)} AS clear
      FROM generate_series(0, 12) a, generate_series(-12, 12) d, generate_series(0, 6) t
      WHERE a + d >= 0`.execute(h.db);
    assert.ok(rows.length > 1000);
    for (const r of rows) {
      const before = {
        onHand: r.available,
        reserved: 0,
        committed: 0,
        lowStockThreshold: r.threshold,
      };
      assert.equal(r.clear, crossesNoBoundary(before, r.delta), JSON.stringify(r));
    }
  });

  it("a reservation planned from counts that changed since writes nothing", async () => {
    const variantId = await variantWith(10);
    const seen = (await getStocks(h.db, [variantId])).get(variantId)!;
    await sql`UPDATE stock SET reserved = 1 WHERE variant_id = ${variantId}`.execute(h.db);
    const orderId = uuidv7();
    const before = await snapshot(variantId, orderId);
    const r = reservationFor(orderId, variantId, 2);

    assert.equal(await insertReservationWithOutbox(h.db, r, [seen], [outcome(r)]), false);
    assert.deepEqual(await snapshot(variantId, orderId), before);
  });

  it("a reservation expected clear of boundaries writes nothing for a line that would cross one", async () => {
    const variantId = await variantWith(7); // threshold 5: holding 2 lands on it
    const orderId = uuidv7();
    const before = await snapshot(variantId, orderId);
    const r = reservationFor(orderId, variantId, 2);

    assert.equal(await insertReservationWithOutbox(h.db, r, ["clear"], [outcome(r)]), false);
    assert.deepEqual(await snapshot(variantId, orderId), before);
    const unknown = reservationFor(orderId, uuidv7(), 1);
    assert.equal(
      await insertReservationWithOutbox(h.db, unknown, ["clear"], [outcome(unknown)]),
      false,
    );
  });

  it("a reservation expected clear is written when it is, counts changed or not", async () => {
    const variantId = await variantWith(100);
    const seen = (await getStocks(h.db, [variantId])).get(variantId)!;
    await sql`UPDATE stock SET reserved = 3 WHERE variant_id = ${variantId}`.execute(h.db);
    const orderId = uuidv7();
    const r = reservationFor(orderId, variantId, 2);

    assert.equal(await insertReservationWithOutbox(h.db, r, ["clear"], [outcome(r)]), true);
    const after = await snapshot(variantId, orderId);
    assert.equal(after.stock?.reserved, 5);
    // (back_in_stock is the initial count's, from variantWith.)
    assert.deepEqual(after.events, ["inventory.back_in_stock", "inventory.reserved"]);
    // ... and a second insert for the order writes nothing, whatever it expects.
    const again = reservationFor(orderId, variantId, 1);
    assert.equal(await insertReservationWithOutbox(h.db, again, [seen], [outcome(again)]), false);
    assert.deepEqual(await snapshot(variantId, orderId), after);
  });

  it("a transition from a status the reservation has left writes nothing", async () => {
    const variantId = await variantWith(100);
    const orderId = uuidv7();
    const reserved = await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    await h.reservations.commitReservation(orderId);
    const before = await snapshot(variantId, orderId);
    const stale = release(reserved, "ORDER_CANCELLED", new Date());

    assert.equal(
      await saveTransitionWithOutbox(h.db, stale, [], { onlyIfNoBoundaryCrossed: true }),
      false,
    );
    assert.deepEqual(await snapshot(variantId, orderId), before);
  });

  it("a transition asked to cross no boundary writes nothing when it would (stock back from zero)", async () => {
    const variantId = await variantWith(4);
    const orderId = uuidv7();
    const reserved = await h.reservations.reserveStock(orderId, [{ variantId, quantity: 4 }]);
    const before = await snapshot(variantId, orderId);
    const t = release(reserved, "ORDER_CANCELLED", new Date());

    assert.equal(
      await saveTransitionWithOutbox(h.db, t, [], { onlyIfNoBoundaryCrossed: true }),
      false,
    );
    assert.deepEqual(await snapshot(variantId, orderId), before);
  });

  it("a transition for an event already in the inbox writes nothing", async () => {
    const variantId = await variantWith(100);
    const orderId = uuidv7();
    const reserved = await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    const event = { consumer: "inventory-service", eventId: uuidv7() };
    await sql`INSERT INTO inbox (consumer, event_id) VALUES (${event.consumer}, ${event.eventId})`.execute(
      h.db,
    );
    const before = await snapshot(variantId, orderId);
    const t = release(reserved, "ORDER_CANCELLED", new Date());

    assert.equal(
      await saveTransitionWithOutbox(h.db, t, [], { onlyIfNoBoundaryCrossed: true, event }),
      false,
    );
    assert.deepEqual(await snapshot(variantId, orderId), before);
  });
});
