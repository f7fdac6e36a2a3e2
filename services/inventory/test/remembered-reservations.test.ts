import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { EventEnvelopeSchema } from "@shopmesh/gen/shopmesh/events/v1/envelope_pb.js";
import { InventoryCommittedSchema } from "@shopmesh/gen/shopmesh/events/v1/inventory_events_pb.js";
import { FailedPreconditionError } from "@shopmesh/platform/errors";
import { unpackPayload } from "@shopmesh/platform/event-envelope";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { createReservationCommands } from "../src/reservations.ts";
import { findReservationByOrder } from "../src/store.ts";
import { type InventoryHarness, startInventory } from "./harness.ts";

// A transition of a reservation this process remembers skips the read: these tests show that
// it answers and publishes what a transition from a read does, and that a memory gone stale
// (another replica moved the reservation) never writes, publishes or moves stock wrongly.

let h: InventoryHarness;
before(async () => {
  h = await startInventory();
});
after(() => h.close());

async function countsOf(variantId: string) {
  const row = await h.db
    .selectFrom("stock")
    .select(["on_hand", "reserved", "committed"])
    .where("variant_id", "=", variantId)
    .executeTakeFirstOrThrow();
  return [row.on_hand, row.reserved, row.committed];
}

async function eventsOf(orderId: string, eventType: string) {
  const rows = await h.db
    .selectFrom("outbox")
    .select("envelope")
    .where("aggregate_id", "=", orderId)
    .where("event_type", "=", eventType)
    .orderBy("id")
    .execute();
  return rows.map((r) => fromBinary(EventEnvelopeSchema, r.envelope));
}

describe("transitions of remembered reservations", () => {
  it("a commit from memory answers and publishes what a commit from a read does, ids as Postgres prints them", async () => {
    const [a, b] = [await h.variantWith(50), await h.variantWith(50)];
    const lines = [
      { variantId: b.toUpperCase(), quantity: 3 },
      { variantId: a.toUpperCase(), quantity: 1 },
    ];
    const [remembered, read] = [uuidv7().toUpperCase(), uuidv7().toUpperCase()];
    await h.reservations.reserveStock(remembered, lines);
    await h.reservations.reserveStock(read, lines);

    const fromMemory = await h.reservations.commitReservation(remembered);
    const fromRead = await h.otherReplica().commitReservation(read);
    assert.deepEqual(fromMemory, await findReservationByOrder(h.db, remembered));
    assert.deepEqual(fromRead, await findReservationByOrder(h.db, read));
    assert.deepEqual(fromMemory.lines, fromRead.lines);
    assert.equal(fromMemory.orderId, remembered.toLowerCase());

    const [memoryEvent] = await eventsOf(remembered.toLowerCase(), "inventory.committed");
    const [readEvent] = await eventsOf(read.toLowerCase(), "inventory.committed");
    const payload = (e: typeof memoryEvent) => unpackPayload(e!, InventoryCommittedSchema);
    assert.deepEqual(
      { ...payload(memoryEvent), reservationId: "", orderId: "" },
      { ...payload(readEvent), reservationId: "", orderId: "" },
    );
    assert.equal(payload(memoryEvent).reservationId, fromMemory.id);
    assert.equal(payload(memoryEvent).orderId, fromMemory.orderId);
    assert.deepEqual(await countsOf(a), [50, 0, 2]);
    assert.deepEqual(await countsOf(b), [50, 0, 6]);
  });

  it("a remembered hold another replica released is not committed, and nothing is written", async () => {
    const variantId = await h.variantWith(10);
    const orderId = uuidv7();
    await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    await h.otherReplica().releaseReservation(orderId, "PAYMENT_FAILED");
    await assert.rejects(h.reservations.commitReservation(orderId), FailedPreconditionError);
    assert.deepEqual(await eventsOf(orderId, "inventory.committed"), []);
    assert.deepEqual(await countsOf(variantId), [10, 0, 0]);
  });

  it("a remembered hold another replica committed is committed once", async () => {
    const variantId = await h.variantWith(10);
    const orderId = uuidv7();
    await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    await h.otherReplica().commitReservation(orderId);
    const again = await h.reservations.commitReservation(orderId);
    assert.equal(again.status, "COMMITTED");
    assert.equal((await eventsOf(orderId, "inventory.committed")).length, 1);
    assert.deepEqual(await countsOf(variantId), [10, 0, 2]);
  });

  it("a remembered hold another replica expired is refused, and the sweeper's release stands", async () => {
    const variantId = await h.variantWith(10);
    const orderId = uuidv7();
    const later = new Date(Date.now() + 61_000);
    await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }], 60_000);
    const sweeper = createReservationCommands({
      db: h.db,
      defaultTtlMs: 60_000,
      now: () => later,
    });
    assert.ok((await sweeper.expireDue()) >= 1);
    await assert.rejects(h.reservations.commitReservation(orderId), FailedPreconditionError);
    assert.equal((await findReservationByOrder(h.db, orderId))?.status, "EXPIRED");
    assert.deepEqual(await countsOf(variantId), [10, 0, 0]);
  });

  it("an event another replica applied is not applied again from memory", async () => {
    const variantId = await h.variantWith(10);
    const orderId = uuidv7();
    await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    await h.reservations.commitReservation(orderId);
    const event = { consumer: "test", eventId: uuidv7() };
    await h.otherReplica().releaseForEvent(orderId, "ORDER_CANCELLED", event);
    assert.deepEqual(await countsOf(variantId), [10, 0, 0]);
    // This process still remembers the order COMMITTED; the same event must change nothing.
    const r = await h.reservations.releaseForEvent(orderId, "ORDER_CANCELLED", event);
    assert.equal(r?.status, "RELEASED");
    assert.equal((await eventsOf(orderId, "inventory.released")).length, 1);
    assert.deepEqual(await countsOf(variantId), [10, 0, 0]);
  });
});
