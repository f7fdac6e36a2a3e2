import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { EventEnvelopeSchema } from "@shopmesh/gen/shopmesh/events/v1/envelope_pb.js";
import {
  InventoryBackInStockSchema,
  InventoryLowStockSchema,
  InventoryOutOfStockSchema,
  InventoryReleasedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/inventory_events_pb.js";
import {
  ReleaseReason,
  ReservationStatus,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { Code, type ServiceError } from "@shopmesh/platform/errors";
import { unpackPayload } from "@shopmesh/platform/event-envelope";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { sql } from "kysely";
import { type InventoryHarness, startInventory } from "./harness.ts";

let clock = Date.now();
let h: InventoryHarness;

before(async () => {
  h = await startInventory({ now: () => new Date(clock) });
});
after(() => h.close());

const variantWith = (onHand: number) => h.variantWith(onHand);

async function stockOf(variantId: string) {
  return h.db
    .selectFrom("stock")
    .selectAll()
    .where("variant_id", "=", variantId)
    .executeTakeFirstOrThrow();
}

async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    return (err as ServiceError).code;
  }
  return Code.OK;
}

describe("ReserveStock", () => {
  it("never oversells: 200 concurrent orders for 10 units reserve exactly 10", {
    timeout: 60_000,
  }, async () => {
    const variantId = await variantWith(10);
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        h.client.reserveStock({ orderId: uuidv7(), lines: [{ variantId, quantity: 1 }] }),
      ),
    );
    const statuses = results.map((r) => r.reservation?.status);
    assert.equal(statuses.filter((s) => s === ReservationStatus.RESERVED).length, 10);
    assert.equal(statuses.filter((s) => s === ReservationStatus.REJECTED).length, 190);
    const rejected = results.find((r) => r.reservation?.status === ReservationStatus.REJECTED);
    assert.deepEqual(
      rejected?.reservation?.shortages.map((s) => [s.variantId, s.requested, s.available]),
      [[variantId, 1, 0]],
    );
    const row = await stockOf(variantId);
    assert.deepEqual([row.on_hand, row.reserved, row.committed], [10, 10, 0]);
  });

  it("reserves all lines of an order or none", async () => {
    const plenty = await variantWith(50);
    const scarce = await variantWith(2);
    const { reservation } = await h.client.reserveStock({
      orderId: uuidv7(),
      lines: [
        { variantId: plenty, quantity: 5 },
        { variantId: scarce, quantity: 3 },
      ],
    });
    assert.equal(reservation?.status, ReservationStatus.REJECTED);
    assert.deepEqual(
      reservation?.shortages.map((s) => [s.variantId, s.requested, s.available]),
      [[scarce, 3, 2]],
    );
    assert.equal((await stockOf(plenty)).reserved, 0);
    assert.equal((await stockOf(scarce)).reserved, 0);
  });

  it("treats a variant inventory does not track as a short line", async () => {
    const unknown = uuidv7();
    const { reservation } = await h.client.reserveStock({
      orderId: uuidv7(),
      lines: [{ variantId: unknown, quantity: 1 }],
    });
    assert.equal(reservation?.status, ReservationStatus.REJECTED);
    assert.deepEqual(reservation?.shortages[0]?.available, 0);
  });

  it("is idempotent per order: repeats, even concurrent ones, hold stock once", async () => {
    const variantId = await variantWith(10);
    const orderId = uuidv7();
    const calls = await Promise.all(
      Array.from({ length: 5 }, () =>
        h.client.reserveStock({ orderId, lines: [{ variantId, quantity: 3 }] }),
      ),
    );
    const ids = new Set(calls.map((c) => c.reservation?.id));
    assert.equal(ids.size, 1);
    const again = await h.client.reserveStock({ orderId, lines: [{ variantId, quantity: 9 }] });
    assert.equal(again.reservation?.id, calls[0]?.reservation?.id);
    assert.equal((await stockOf(variantId)).reserved, 3);
    const events = await h.db
      .selectFrom("outbox")
      .select("event_type")
      .where("aggregate_id", "=", orderId)
      .execute();
    assert.deepEqual(
      events.map((e) => e.event_type),
      ["inventory.reserved"],
    );
  });

  it("answers INVALID_ARGUMENT naming the field for bad lines", async () => {
    const err = await h.client
      .reserveStock({ orderId: uuidv7(), lines: [{ variantId: "nope", quantity: 0 }] })
      .then(
        () => assert.fail("expected INVALID_ARGUMENT"),
        (e: ServiceError) => e,
      );
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    const fields = err.violations.map((v) => v.field);
    assert.ok(fields.includes("lines[0].variant_id"), fields.join(","));
    assert.ok(fields.includes("lines[0].quantity"), fields.join(","));
  });
});

/** The variant's stock-level events after its initial count, as [type, on hand, reserved, available]. */
async function crossingsOf(variantId: string) {
  const rows = await h.db
    .selectFrom("outbox")
    .select(["event_type", "envelope"])
    .where("aggregate_id", "=", variantId)
    .orderBy("id")
    .execute();
  const schemas = {
    "inventory.low_stock": InventoryLowStockSchema,
    "inventory.out_of_stock": InventoryOutOfStockSchema,
    "inventory.back_in_stock": InventoryBackInStockSchema,
  } as const;
  return rows.slice(1).map((r) => {
    const schema = schemas[r.event_type as keyof typeof schemas];
    const { stock } = unpackPayload(fromBinary(EventEnvelopeSchema, r.envelope), schema);
    return [r.event_type, stock?.onHand, stock?.reserved, stock?.available];
  });
}

describe("stock-level events", () => {
  it("concurrent holds publish each crossing once, with the counts right after it", {
    timeout: 60_000,
  }, async () => {
    const variantId = await variantWith(10); // low-stock threshold 5
    const orders = Array.from({ length: 30 }, () => uuidv7());
    const results = await Promise.all(
      orders.map((orderId) =>
        h.client.reserveStock({ orderId, lines: [{ variantId, quantity: 1 }] }),
      ),
    );
    const held = orders.filter(
      (_, i) => results[i]?.reservation?.status === ReservationStatus.RESERVED,
    );
    assert.equal(held.length, 10);
    assert.deepEqual(await crossingsOf(variantId), [
      ["inventory.low_stock", 10, 5, 5],
      ["inventory.out_of_stock", 10, 10, 0],
    ]);

    // Back from zero crosses again; concurrent releases above zero cross nothing more.
    await h.client.releaseReservation({ orderId: held[0]!, reason: ReleaseReason.ORDER_CANCELLED });
    await Promise.all(
      held
        .slice(1, 4)
        .map((orderId) =>
          h.client.releaseReservation({ orderId, reason: ReleaseReason.ORDER_CANCELLED }),
        ),
    );
    assert.deepEqual((await crossingsOf(variantId)).slice(2), [
      ["inventory.back_in_stock", 10, 9, 1],
      ["inventory.low_stock", 10, 9, 1],
    ]);
    const row = await stockOf(variantId);
    assert.deepEqual([row.on_hand, row.reserved, row.committed], [10, 6, 0]);
  });

  it("a hold landing on the threshold publishes low_stock; a hold with room to spare publishes none", async () => {
    const variantId = await variantWith(9);
    await h.client.reserveStock({ orderId: uuidv7(), lines: [{ variantId, quantity: 3 }] });
    assert.deepEqual(await crossingsOf(variantId), []);
    await h.client.reserveStock({ orderId: uuidv7(), lines: [{ variantId, quantity: 1 }] });
    assert.deepEqual(await crossingsOf(variantId), [["inventory.low_stock", 9, 4, 5]]);
  });
});

describe("reservation transitions", () => {
  it("commit moves held units to committed; release then returns them", async () => {
    const variantId = await variantWith(10);
    const orderId = uuidv7();
    await h.client.reserveStock({ orderId, lines: [{ variantId, quantity: 4 }] });
    const committed = await h.client.commitReservation({ orderId });
    assert.equal(committed.reservation?.status, ReservationStatus.COMMITTED);
    const held = await stockOf(variantId);
    assert.deepEqual([held.on_hand, held.reserved, held.committed], [10, 0, 4]);
    assert.equal(
      (await h.client.commitReservation({ orderId })).reservation?.status,
      ReservationStatus.COMMITTED,
    );

    const released = await h.client.releaseReservation({
      orderId,
      reason: ReleaseReason.ORDER_CANCELLED,
    });
    assert.equal(released.reservation?.status, ReservationStatus.RELEASED);
    const row = await stockOf(variantId);
    assert.deepEqual([row.on_hand, row.reserved, row.committed], [10, 0, 0]);
  });

  it("a second release changes nothing and commit after release is refused", async () => {
    const variantId = await variantWith(10);
    const orderId = uuidv7();
    await h.client.reserveStock({ orderId, lines: [{ variantId, quantity: 2 }] });
    await h.client.releaseReservation({ orderId, reason: ReleaseReason.PAYMENT_FAILED });
    const again = await h.client.releaseReservation({
      orderId,
      reason: ReleaseReason.ORDER_CANCELLED,
    });
    assert.equal(again.reservation?.status, ReservationStatus.RELEASED);
    assert.equal(again.reservation?.releaseReason, ReleaseReason.PAYMENT_FAILED);
    assert.equal((await stockOf(variantId)).reserved, 0);
    assert.equal(await codeOf(h.client.commitReservation({ orderId })), Code.FAILED_PRECONDITION);
    const released = await h.db
      .selectFrom("outbox")
      .select("event_type")
      .where("aggregate_id", "=", orderId)
      .where("event_type", "=", "inventory.released")
      .execute();
    assert.equal(released.length, 1);
  });

  it("refuses to release shipped stock, and releasing an unknown order answers OK", async () => {
    const variantId = await variantWith(10);
    const orderId = uuidv7();
    await h.client.reserveStock({ orderId, lines: [{ variantId, quantity: 2 }] });
    await h.client.commitReservation({ orderId });
    await h.reservations.fulfilForEvent(orderId, { consumer: "test", eventId: uuidv7() });
    const row = await stockOf(variantId);
    assert.deepEqual([row.on_hand, row.reserved, row.committed], [8, 0, 0]);
    assert.equal(
      await codeOf(h.client.releaseReservation({ orderId, reason: ReleaseReason.ORDER_CANCELLED })),
      Code.FAILED_PRECONDITION,
    );
    const none = await h.client.releaseReservation({
      orderId: uuidv7(),
      reason: ReleaseReason.ORDER_CANCELLED,
    });
    assert.equal(none.reservation, undefined);
    assert.equal(await codeOf(h.client.commitReservation({ orderId: uuidv7() })), Code.NOT_FOUND);
  });

  it("the database rejects an oversell even when the service code is bypassed", async () => {
    const variantId = await variantWith(3);
    await assert.rejects(
      sql`UPDATE stock SET reserved = 4 WHERE variant_id = ${variantId}`.execute(h.db),
      /stock_no_oversell/,
    );
    await assert.rejects(
      sql`UPDATE stock SET reserved = 2, committed = 2 WHERE variant_id = ${variantId}`.execute(
        h.db,
      ),
      /stock_no_oversell/,
    );
    await assert.rejects(
      sql`UPDATE stock SET on_hand = -1, reserved = -2 WHERE variant_id = ${variantId}`.execute(
        h.db,
      ),
      /non_negative/,
    );
    assert.equal((await stockOf(variantId)).reserved, 0);
  });

  it("the expiry sweeper releases lapsed holds as EXPIRED and leaves others alone", async () => {
    const variantId = await variantWith(10);
    const lapsing = uuidv7();
    const paid = uuidv7();
    await h.client.reserveStock({
      orderId: lapsing,
      lines: [{ variantId, quantity: 3 }],
      ttl: { seconds: 60n },
    });
    await h.client.reserveStock({
      orderId: paid,
      lines: [{ variantId, quantity: 2 }],
      ttl: { seconds: 60n },
    });
    await h.client.commitReservation({ orderId: paid });
    clock += 61_000;
    try {
      assert.ok((await h.reservations.expireDue()) >= 1);
    } finally {
      clock -= 61_000;
    }
    const [lapsed] = (
      await h.client.listReservationsForOrder({ orderId: lapsing }, { metadata: h.admin })
    ).reservations;
    assert.equal(lapsed?.status, ReservationStatus.EXPIRED);
    assert.equal(lapsed?.releaseReason, ReleaseReason.EXPIRED);
    const row = await stockOf(variantId);
    assert.deepEqual([row.on_hand, row.reserved, row.committed], [10, 0, 2]);
    assert.equal(
      await codeOf(h.client.commitReservation({ orderId: lapsing })),
      Code.FAILED_PRECONDITION,
    );

    const outbox = await h.db
      .selectFrom("outbox")
      .select("envelope")
      .where("aggregate_id", "=", lapsing)
      .where("event_type", "=", "inventory.released")
      .executeTakeFirstOrThrow();
    const released = unpackPayload(
      fromBinary(EventEnvelopeSchema, outbox.envelope),
      InventoryReleasedSchema,
    );
    assert.equal(released.reason, ReleaseReason.EXPIRED);
    assert.equal(released.status, ReservationStatus.EXPIRED);
    assert.equal(released.previousStatus, ReservationStatus.RESERVED);
  });
});
