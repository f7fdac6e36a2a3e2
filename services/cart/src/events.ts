import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CartItemAddedSchema } from "@shopmesh/gen/shopmesh/events/v1/cart_events_pb.js";
import { OrderPlacedSchema } from "@shopmesh/gen/shopmesh/events/v1/order_events_pb.js";
import { EVENT_HEADERS, encodeEvent, unpackPayload } from "@shopmesh/platform/event-envelope";
import { createIdempotentProducer, type Kafka, SEND_OPTIONS } from "@shopmesh/platform/kafka";
import { type RunningConsumer, startConsumer } from "@shopmesh/platform/kafka-consumer";
import type { Logger } from "@shopmesh/platform/logger";
import { removeOrdered } from "./domain/cart.ts";
import type { CartStore } from "./store.ts";

/** Topic of cart events. */
export const CARTS_TOPIC = "carts";
/** Topic the cart service consumes order.placed from. */
export const ORDERS_TOPIC = "orders";

/** What cart.item_added says. */
export interface ItemAdded {
  userId: string;
  variantId: string;
  productId: string;
  quantityAdded: number;
  lineQuantity: number;
  unitPrice: { currencyCode: string; amountMinor: number };
  cartItemCount: number;
  at: Date;
}

/** Publishes cart events. */
export interface CartEvents {
  itemAdded(e: ItemAdded): void;
  close(): Promise<void>;
}

/**
 * Publishes cart.item_added straight to Kafka with the idempotent producer. The cart has no
 * database for an outbox, and the event is an analytics and recommendation signal, not part of
 * any transaction: publishing after the Redis write, without making the shopper wait, is the
 * right trade. If Kafka is down the event is logged and dropped; the cart itself is unaffected.
 */
export function createCartEvents(kafka: Kafka, logger: Logger): CartEvents {
  const producer = createIdempotentProducer(kafka);
  let connected: Promise<void> | undefined;
  const pending = new Set<Promise<unknown>>();
  return {
    itemAdded(e) {
      const encoded = encodeEvent({
        topic: CARTS_TOPIC,
        aggregateType: "cart",
        aggregateId: e.userId,
        eventType: "cart.item_added",
        producer: "cart",
        payloadSchema: CartItemAddedSchema,
        payload: create(CartItemAddedSchema, {
          userId: e.userId,
          variantId: e.variantId,
          productId: e.productId,
          quantityAdded: e.quantityAdded,
          lineQuantity: e.lineQuantity,
          unitPrice: {
            currencyCode: e.unitPrice.currencyCode,
            amountMinor: BigInt(e.unitPrice.amountMinor),
          },
          cartItemCount: e.cartItemCount,
          addedAt: timestampFromDate(e.at),
        }),
      });
      connected ??= producer.connect();
      const headers: Record<string, string> = {
        [EVENT_HEADERS.eventType]: encoded.eventType,
        [EVENT_HEADERS.eventId]: encoded.eventId,
        [EVENT_HEADERS.correlationId]: encoded.correlationId,
      };
      const sent = connected
        .then(() =>
          producer.send({
            topic: CARTS_TOPIC,
            messages: [{ key: e.userId, value: Buffer.from(encoded.envelope), headers }],
            ...SEND_OPTIONS,
          }),
        )
        .catch((err: unknown) => {
          connected = undefined;
          logger.warn({ err, eventId: encoded.eventId }, "cart.item_added not published");
        })
        .finally(() => pending.delete(sent));
      pending.add(sent);
    },
    async close() {
      await Promise.race([Promise.allSettled(pending), new Promise((r) => setTimeout(r, 5_000))]);
      await producer.disconnect().catch(() => undefined);
    },
  };
}

/**
 * Consumes order.placed and takes the ordered units out of the buyer's cart, once per event
 * (the event id is recorded in Redis atomically with the cart write).
 */
export async function startOrderPlacedConsumer(deps: {
  kafka: Kafka;
  store: CartStore;
  logger: Logger;
  groupId: string;
  fromBeginning: boolean;
}): Promise<RunningConsumer> {
  return startConsumer({
    kafka: deps.kafka,
    groupId: deps.groupId,
    topics: [ORDERS_TOPIC],
    logger: deps.logger,
    fromBeginning: deps.fromBeginning,
    handler: async ({ envelope }) => {
      if (envelope.eventType !== "order.placed") return;
      const placed = unpackPayload(envelope, OrderPlacedSchema);
      const ordered = placed.items.map((i) => ({ variantId: i.variantId, quantity: i.quantity }));
      const cart = await deps.store.get(placed.userId);
      // Most orders' buyers still have the lines; anyone else's (or an empty) cart is left alone.
      if (!cart.items.some((l) => ordered.some((o) => o.variantId === l.variantId))) return;
      await deps.store.update(
        placed.userId,
        (c) => removeOrdered(c, ordered, new Date()),
        envelope.eventId,
      );
    },
  });
}
