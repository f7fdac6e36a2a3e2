import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ProductSchema } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import {
  ProductDeletedSchema,
  ProductUpdatedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/catalog_events_pb.js";
import { OrderCancelledSchema } from "@shopmesh/gen/shopmesh/events/v1/order_events_pb.js";
import { ShipmentCreatedSchema } from "@shopmesh/gen/shopmesh/events/v1/shipping_events_pb.js";
import { CancellationReason } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { sql } from "kysely";
import { consumed, type InventoryHarness, startInventory } from "./harness.ts";

// What each hot path costs in statements (round trips to Postgres), and that the paths which
// change nothing write nothing. The checkout benchmark pays ReserveStock and
// CommitReservation once per order; the consumer sees order.cancelled after most releases.
// Transitions of a reservation this process reserved (or last moved) are one statement;
// `h.otherReplica()` is a process that did not see it, which reads it first.

let h: InventoryHarness;
before(async () => {
  h = await startInventory();
});
after(() => h.close());

/** Rows in every table a command writes, to show that a path wrote nothing. */
async function rowCounts() {
  const { rows } = await sql<Record<string, string>>`
    SELECT (SELECT count(*) FROM reservations) AS reservations,
           (SELECT count(*) FROM outbox) AS outbox,
           (SELECT count(*) FROM inbox) AS inbox,
           (SELECT max(updated_at) FROM stock) AS stock_updated,
           (SELECT max(updated_at) FROM reservations) AS reservation_updated`.execute(h.db);
  return rows[0];
}

/** The first word of each statement: WITH, SELECT, BEGIN, ... */
const verbs = (statements: string[]) =>
  statements.map((s) => s.trim().split(/\s+/)[0]?.toUpperCase());

const cancelled = (orderId: string) =>
  consumed({
    topic: "orders",
    aggregateType: "order",
    aggregateId: orderId,
    eventType: "order.cancelled",
    payloadSchema: OrderCancelledSchema,
    payload: create(OrderCancelledSchema, {
      orderId,
      reason: CancellationReason.PAYMENT_DECLINED,
    }),
  });

const shipped = (orderId: string) =>
  consumed({
    topic: "shipments",
    aggregateType: "shipment",
    aggregateId: uuidv7(),
    eventType: "shipment.created",
    payloadSchema: ShipmentCreatedSchema,
    payload: create(ShipmentCreatedSchema, { orderId }),
  });

describe("round trips per operation", () => {
  it("reserves an order with room to spare in one statement, without a transaction", async () => {
    const variantId = await h.variantWith(100);
    const orderId = uuidv7();
    const statements = await h.statementsOf(() =>
      h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]),
    );
    assert.deepEqual(verbs(statements), ["WITH"]);
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

  it("commits in one statement, and a repeat commit is one read writing nothing", async () => {
    const variantId = await h.variantWith(100);
    const orderId = uuidv7();
    await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    assert.deepEqual(verbs(await h.statementsOf(() => h.reservations.commitReservation(orderId))), [
      "WITH",
    ]);
    const counts = await rowCounts();
    assert.deepEqual(verbs(await h.statementsOf(() => h.reservations.commitReservation(orderId))), [
      "SELECT",
    ]);
    assert.deepEqual(await rowCounts(), counts);
  });

  it("a replica that did not reserve the order commits, releases and fulfils with a read and one statement", async () => {
    const variantId = await h.variantWith(100);
    const [committed, released] = [uuidv7(), uuidv7()];
    for (const orderId of [committed, released]) {
      await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    }
    assert.deepEqual(
      verbs(await h.statementsOf(() => h.otherReplica().commitReservation(committed))),
      ["SELECT", "WITH"],
    );
    assert.deepEqual(
      verbs(await h.statementsOf(() => h.otherReplica().releaseReservation(released, "EXPIRED"))),
      ["SELECT", "WITH"],
    );
    const event = { consumer: "test", eventId: uuidv7() };
    assert.deepEqual(
      verbs(await h.statementsOf(() => h.otherReplica().fulfilForEvent(committed, event))),
      ["SELECT", "WITH"],
    );
  });

  it("a repeated ReserveStock writes nothing and returns the stored reservation", async () => {
    const variantId = await h.variantWith(100);
    const orderId = uuidv7();
    const first = await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    const counts = await rowCounts();
    let again: Awaited<ReturnType<typeof h.reservations.reserveStock>> | undefined;
    const statements = await h.statementsOf(async () => {
      again = await h.reservations.reserveStock(orderId, [{ variantId, quantity: 5 }]);
    });
    assert.equal(again?.id, first.id);
    assert.ok(statements.length <= 3, verbs(statements).join(" "));
    assert.ok(!verbs(statements).includes("BEGIN"));
    assert.deepEqual(await rowCounts(), counts);
  });

  it("a rejection or a hold crossing a boundary takes three statements when uncontended", async () => {
    const variantId = await h.variantWith(7);
    for (const quantity of [2, 50]) {
      const statements = await h.statementsOf(() =>
        h.reservations.reserveStock(uuidv7(), [{ variantId, quantity }]),
      );
      assert.deepEqual(verbs(statements), ["WITH", "SELECT", "WITH"], `quantity ${quantity}`);
    }
  });

  it("releases in one statement; a repeat is one read writing nothing", async () => {
    const variantId = await h.variantWith(100);
    const orderId = uuidv7();
    await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    assert.deepEqual(
      verbs(
        await h.statementsOf(() => h.reservations.releaseReservation(orderId, "PAYMENT_FAILED")),
      ),
      ["WITH"],
    );
    const counts = await rowCounts();
    assert.deepEqual(
      verbs(
        await h.statementsOf(() => h.reservations.releaseReservation(orderId, "PAYMENT_FAILED")),
      ),
      ["SELECT"],
    );
    assert.deepEqual(await rowCounts(), counts);
  });

  it("order.cancelled after the orchestrator's release costs one read and writes nothing, not even an inbox row", async () => {
    const variantId = await h.variantWith(100);
    const orderId = uuidv7();
    await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    await h.reservations.releaseReservation(orderId, "PAYMENT_FAILED");
    const counts = await rowCounts();
    for (const event of [cancelled(orderId), cancelled(uuidv7())]) {
      assert.deepEqual(verbs(await h.statementsOf(() => h.handleEvent(event))), ["SELECT"]);
    }
    assert.deepEqual(await rowCounts(), counts);
  });

  it("shipment.created fulfils in one statement that records the event; a redelivery is one read", async () => {
    const variantId = await h.variantWith(100);
    const orderId = uuidv7();
    await h.reservations.reserveStock(orderId, [{ variantId, quantity: 2 }]);
    await h.reservations.commitReservation(orderId);
    const event = shipped(orderId);
    assert.deepEqual(verbs(await h.statementsOf(() => h.handleEvent(event))), ["WITH"]);
    const recorded = await h.db
      .selectFrom("inbox")
      .select("consumer")
      .where("event_id", "=", event.envelope.eventId)
      .execute();
    assert.equal(recorded.length, 1);
    const counts = await rowCounts();
    assert.deepEqual(verbs(await h.statementsOf(() => h.handleEvent(event))), ["SELECT"]);
    assert.deepEqual(verbs(await h.statementsOf(() => h.handleEvent(cancelled(orderId)))), [
      "SELECT",
    ]);
    assert.deepEqual(await rowCounts(), counts);
  });

  it("order events inventory does not act on cost nothing", async () => {
    const placed = consumed({
      topic: "orders",
      aggregateType: "order",
      aggregateId: uuidv7(),
      eventType: "order.placed",
      payloadSchema: OrderCancelledSchema,
      payload: create(OrderCancelledSchema, {}),
    });
    assert.deepEqual(await h.statementsOf(() => h.handleEvent(placed)), []);
  });

  it("product.updated and product.deleted that change nothing cost one read and write nothing", async () => {
    const variantId = await h.variantWith(10);
    const productId = uuidv7();
    const updated = consumed({
      topic: "products",
      aggregateType: "product",
      aggregateId: productId,
      eventType: "product.updated",
      payloadSchema: ProductUpdatedSchema,
      payload: create(ProductUpdatedSchema, {
        product: create(ProductSchema, { id: productId, variants: [{ id: variantId }] }),
      }),
    });
    const deleted = consumed({
      topic: "products",
      aggregateType: "product",
      aggregateId: productId,
      eventType: "product.deleted",
      payloadSchema: ProductDeletedSchema,
      payload: create(ProductDeletedSchema, { productId, variantIds: [variantId] }),
    });
    await h.handleEvent(deleted);
    const counts = await rowCounts();
    for (const event of [
      updated,
      deleted,
      { ...deleted, envelope: { ...deleted.envelope, eventId: uuidv7() } },
    ]) {
      assert.deepEqual(verbs(await h.statementsOf(() => h.handleEvent(event))), ["SELECT"]);
    }
    assert.deepEqual(await rowCounts(), counts);
  });
});
