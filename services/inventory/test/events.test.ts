import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { ProductSchema } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { ProductCreatedSchema } from "@shopmesh/gen/shopmesh/events/v1/catalog_events_pb.js";
import { OrderCancelledSchema } from "@shopmesh/gen/shopmesh/events/v1/order_events_pb.js";
import { ShipmentCreatedSchema } from "@shopmesh/gen/shopmesh/events/v1/shipping_events_pb.js";
import { ReservationStatus } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { CancellationReason } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { encodeEvent, type NewEvent } from "@shopmesh/platform/event-envelope";
import { createKafka, ensureTopics } from "@shopmesh/platform/kafka";
import { startConsumer } from "@shopmesh/platform/kafka-consumer";
import { createLogger } from "@shopmesh/platform/logger";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { consumed, type InventoryHarness, startInventory } from "./harness.ts";

let h: InventoryHarness;
before(async () => {
  h = await startInventory();
});
after(() => h.close());

function encoded<D extends DescMessage>(event: Omit<NewEvent<D>, "producer">) {
  return encodeEvent({ ...event, producer: "test" } as NewEvent<D>);
}

function productCreated(variantIds: string[], initialOnHand: Record<string, number>) {
  const productId = uuidv7();
  return consumed({
    topic: "products",
    aggregateType: "product",
    aggregateId: productId,
    eventType: "product.created",
    payloadSchema: ProductCreatedSchema,
    payload: create(ProductCreatedSchema, {
      product: create(ProductSchema, {
        id: productId,
        name: "Lamp",
        variants: variantIds.map((id) => ({ id, sku: `SKU-${id}` })),
      }),
      initialOnHand,
    }),
  });
}

async function stockRows(variantIds: string[]) {
  return h.db
    .selectFrom("stock")
    .selectAll()
    .where("variant_id", "in", variantIds)
    .orderBy("variant_id")
    .execute();
}

describe("inventory consumers", () => {
  it("product.created starts stock rows once, with the initial count, even when redelivered", async () => {
    const [a, b] = [uuidv7(), uuidv7()];
    const event = productCreated([a, b], { [a]: 12 });
    await h.handleEvent(event);
    await h.handleEvent(event);
    const rows = await stockRows([a, b]);
    const onHand = new Map(rows.map((r) => [r.variant_id, r.on_hand]));
    assert.deepEqual([rows.length, onHand.get(a), onHand.get(b)], [2, 12, 0]);
    const audit = await h.db
      .selectFrom("adjustments")
      .selectAll()
      .where("variant_id", "=", a)
      .execute();
    assert.deepEqual(
      audit.map((x) => [x.reason, x.delta]),
      [["INITIAL", 12]],
    );
    const backInStock = await h.db
      .selectFrom("outbox")
      .select("event_type")
      .where("aggregate_id", "=", a)
      .execute();
    assert.deepEqual(
      backInStock.map((x) => x.event_type),
      ["inventory.back_in_stock"],
    );
  });

  it("order.cancelled releases the order's stock and shipment.created fulfils it", async () => {
    const [v] = [uuidv7()];
    await h.handleEvent(productCreated([v], { [v]: 10 }));
    const cancelled = uuidv7();
    const shipped = uuidv7();
    await h.reservations.reserveStock(cancelled, [{ variantId: v, quantity: 2 }]);
    await h.reservations.reserveStock(shipped, [{ variantId: v, quantity: 3 }]);
    await h.reservations.commitReservation(shipped);
    const cancel = consumed({
      topic: "orders",
      aggregateType: "order",
      aggregateId: cancelled,
      eventType: "order.cancelled",
      payloadSchema: OrderCancelledSchema,
      payload: create(OrderCancelledSchema, {
        orderId: cancelled,
        reason: CancellationReason.PAYMENT_DECLINED,
      }),
    });
    const ship = consumed({
      topic: "shipments",
      aggregateType: "shipment",
      aggregateId: uuidv7(),
      eventType: "shipment.created",
      payloadSchema: ShipmentCreatedSchema,
      payload: create(ShipmentCreatedSchema, { orderId: shipped }),
    });
    for (const e of [cancel, ship, cancel, ship]) await h.handleEvent(e);
    const [row] = await stockRows([v]);
    assert.deepEqual([row?.on_hand, row?.reserved, row?.committed], [7, 0, 0]);
    const released = await h.client.listReservationsForOrder(
      { orderId: cancelled },
      { metadata: h.admin },
    );
    assert.equal(released.reservations[0]?.status, ReservationStatus.RELEASED);
    const fulfilled = await h.client.listReservationsForOrder(
      { orderId: shipped },
      { metadata: h.admin },
    );
    assert.equal(fulfilled.reservations[0]?.status, ReservationStatus.FULFILLED);
    // A late cancellation of a shipped order is ignored rather than failing the consumer forever.
    await h.handleEvent(
      consumed({
        topic: "orders",
        aggregateType: "order",
        aggregateId: shipped,
        eventType: "order.cancelled",
        payloadSchema: OrderCancelledSchema,
        payload: create(OrderCancelledSchema, {
          orderId: shipped,
          reason: CancellationReason.ADMIN_REQUESTED,
        }),
      }),
    );
  });

  it("consumes product.created from Kafka and applies a redelivered copy once", {
    timeout: 45_000,
  }, async () => {
    const suffix = randomBytes(4).toString("hex");
    const topic = `test-inventory-products-${suffix}`;
    const kafka = createKafka({ clientId: `inventory-test-${suffix}` });
    await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
    const v = uuidv7();
    const event = productCreated([v], { [v]: 5 });
    const e = encoded({
      topic,
      aggregateType: "product",
      aggregateId: event.envelope.aggregateId,
      eventType: "product.created",
      eventId: event.envelope.eventId,
      payloadSchema: ProductCreatedSchema,
      payload: create(ProductCreatedSchema, {
        product: { id: event.envelope.aggregateId, variants: [{ id: v }] },
        initialOnHand: { [v]: 5 },
      }),
    });
    const producer = kafka.producer();
    await producer.connect();
    const message = { key: e.aggregateId, value: Buffer.from(e.envelope) };
    await producer.send({ topic, messages: [message, message] });
    await producer.disconnect();
    let seen = 0;
    const consumer = await startConsumer({
      kafka,
      groupId: `inventory-test-${suffix}`,
      topics: [topic],
      fromBeginning: true,
      logger: createLogger("inventory-test", "silent"),
      handler: async (ev) => {
        await h.handleEvent(ev);
        seen++;
      },
    });
    try {
      for (let i = 0; i < 300 && seen < 2; i++) await sleep(100);
      assert.equal(seen, 2);
      const [row] = await stockRows([v]);
      assert.equal(row?.on_hand, 5);
      const audit = await h.db
        .selectFrom("adjustments")
        .select("id")
        .where("variant_id", "=", v)
        .execute();
      assert.equal(audit.length, 1);
    } finally {
      await consumer.stop();
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  });
});
