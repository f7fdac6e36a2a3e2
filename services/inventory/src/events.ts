import { create, type DescMessage } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ProductCreatedSchema,
  ProductDeletedSchema,
  ProductUpdatedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/catalog_events_pb.js";
import {
  InventoryBackInStockSchema,
  InventoryCommittedSchema,
  InventoryLowStockSchema,
  InventoryOutOfStockSchema,
  InventoryReleasedSchema,
  InventoryReservationFailedSchema,
  InventoryReservedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/inventory_events_pb.js";
import { OrderCancelledSchema } from "@shopmesh/gen/shopmesh/events/v1/order_events_pb.js";
import { ShipmentCreatedSchema } from "@shopmesh/gen/shopmesh/events/v1/shipping_events_pb.js";
import { ReservationStatus } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { CancellationReason } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { type NewEvent, unpackPayload } from "@shopmesh/platform/event-envelope";
import { handleOnce } from "@shopmesh/platform/inbox";
import type { ConsumedEvent } from "@shopmesh/platform/kafka-consumer";
import type { Logger } from "@shopmesh/platform/logger";
import type { ReleaseReason, Transition } from "./domain/reservation.ts";
import { type Stock, stockCrossings } from "./domain/stock.ts";
import { stockLevelMessage } from "./proto-mapping.ts";
import type { ReservationCommands } from "./reservations.ts";
import type { StockCommands } from "./stock-commands.ts";
import { type Db, getStocks, type Trx } from "./store.ts";

/** The topic inventory publishes on. */
export const INVENTORY_TOPIC = "inventory";
/** Topics inventory consumes. */
export const CONSUMED_TOPICS = ["products", "orders", "shipments"] as const;
/** The event types inventory applies; the consumer skips the rest of those topics undecoded. */
export const APPLIED_EVENT_TYPES = [
  "product.created",
  "product.updated",
  "product.deleted",
  "order.cancelled",
  "shipment.created",
] as const;
/** This service's consumer group and inbox consumer name. */
export const CONSUMER_GROUP = "inventory-service";

const PRODUCER = "inventory";

function event<D extends DescMessage>(
  aggregateType: string,
  aggregateId: string,
  eventType: string,
  payloadSchema: D,
  payload: NewEvent<D>["payload"],
): NewEvent<DescMessage> {
  return {
    topic: INVENTORY_TOPIC,
    aggregateType,
    aggregateId,
    eventType,
    producer: PRODUCER,
    payloadSchema,
    payload,
  } as NewEvent<DescMessage>;
}

/** inventory.reserved or inventory.reservation_failed for a new reservation, keyed by order id. */
export function reservationOutcomeEvent(t: Transition): NewEvent {
  const r = t.reservation;
  if (r.status === "REJECTED") {
    return event(
      "reservation",
      r.orderId,
      "inventory.reservation_failed",
      InventoryReservationFailedSchema,
      create(InventoryReservationFailedSchema, {
        reservationId: r.id,
        orderId: r.orderId,
        shortages: r.shortages,
      }),
    );
  }
  return event(
    "reservation",
    r.orderId,
    "inventory.reserved",
    InventoryReservedSchema,
    create(InventoryReservedSchema, {
      reservationId: r.id,
      orderId: r.orderId,
      lines: r.lines,
      expiresAt: timestampFromDate(r.expiresAt),
    }),
  );
}

/** inventory.released for a release or an expiry. */
export function releasedEvent(t: Transition): NewEvent {
  const r = t.reservation;
  return event(
    "reservation",
    r.orderId,
    "inventory.released",
    InventoryReleasedSchema,
    create(InventoryReleasedSchema, {
      reservationId: r.id,
      orderId: r.orderId,
      lines: r.lines,
      reason: releaseReasonNumber(r.releaseReason ?? "ORDER_CANCELLED"),
      previousStatus: ReservationStatus[t.previousStatus],
      status: ReservationStatus[r.status],
    }),
  );
}

/** inventory.committed after payment. */
export function committedEvent(t: Transition): NewEvent {
  const r = t.reservation;
  return event(
    "reservation",
    r.orderId,
    "inventory.committed",
    InventoryCommittedSchema,
    create(InventoryCommittedSchema, {
      reservationId: r.id,
      orderId: r.orderId,
      lines: r.lines,
    }),
  );
}

/**
 * The low_stock / out_of_stock / back_in_stock events a change crosses, keyed by variant id.
 * `before` misses for a row created by the change (it started at zero).
 */
export function crossingEvents(
  before: ReadonlyMap<string, Stock>,
  after: ReadonlyMap<string, Stock>,
): NewEvent[] {
  const events: NewEvent[] = [];
  const zero = { onHand: 0, reserved: 0, committed: 0 };
  for (const [variantId, now] of [...after].sort(([a], [b]) => a.localeCompare(b))) {
    for (const crossing of stockCrossings(before.get(variantId) ?? zero, now)) {
      const stock = stockLevelMessage(now);
      if (crossing === "low_stock") {
        events.push(
          event(
            "stock",
            variantId,
            "inventory.low_stock",
            InventoryLowStockSchema,
            create(InventoryLowStockSchema, { stock }),
          ),
        );
      } else if (crossing === "out_of_stock") {
        events.push(
          event(
            "stock",
            variantId,
            "inventory.out_of_stock",
            InventoryOutOfStockSchema,
            create(InventoryOutOfStockSchema, { stock }),
          ),
        );
      } else {
        events.push(
          event(
            "stock",
            variantId,
            "inventory.back_in_stock",
            InventoryBackInStockSchema,
            create(InventoryBackInStockSchema, { stock }),
          ),
        );
      }
    }
  }
  return events;
}

function releaseReasonNumber(reason: ReleaseReason): number {
  return { ORDER_CANCELLED: 1, PAYMENT_FAILED: 2, EXPIRED: 3, SAGA_TIMEOUT: 4 }[reason];
}

/** Why to release, given why the order was cancelled. */
function releaseReasonFor(reason: CancellationReason): ReleaseReason {
  switch (reason) {
    case CancellationReason.PAYMENT_DECLINED:
      return "PAYMENT_FAILED";
    case CancellationReason.PAYMENT_TIMEOUT:
    case CancellationReason.INVENTORY_TIMEOUT:
      return "SAGA_TIMEOUT";
    case CancellationReason.RESERVATION_EXPIRED:
      return "EXPIRED";
    default:
      return "ORDER_CANCELLED";
  }
}

/** What the consumers need. */
export interface ConsumerDeps {
  db: Db;
  reservations: ReservationCommands;
  stock: StockCommands;
  logger: Logger;
}

/**
 * The inventory's event handler: product.created/updated start tracking new variants (with the
 * creator's initial count), product.deleted discontinues them, order.cancelled releases the
 * order's stock (a safety net behind the orchestrator's ReleaseReservation call), and
 * shipment.created fulfils it. Each effect runs once per event id through the inbox; an event
 * that changes nothing (the usual order.cancelled, which follows the orchestrator's release)
 * costs one read and writes nothing. Other event types on these topics (order.placed,
 * order.confirmed, ...) are not read at all.
 */
export function createEventHandler(deps: ConsumerDeps): (e: ConsumedEvent) => Promise<void> {
  const { db, reservations, stock } = deps;
  const once = (e: ConsumedEvent, fn: (trx: Trx) => Promise<unknown>) =>
    handleOnce(db, CONSUMER_GROUP, e.envelope.eventId, fn);

  // Stock rows are never deleted and never come back from discontinued, so an event that
  // would change nothing now never will: it is skipped after one read, without a transaction
  // or an inbox row.
  const allTracked = async (variantIds: readonly string[]) => {
    const found = await getStocks(db, variantIds);
    return variantIds.every((id) => found.has(id));
  };
  const onProductCreated = async (e: ConsumedEvent) => {
    const { product, initialOnHand } = unpackPayload(e.envelope, ProductCreatedSchema);
    if (!product) return;
    const variants = product.variants.map((v) => ({
      variantId: v.id,
      initialOnHand: initialOnHand[v.id] ?? 0,
    }));
    if (await allTracked(variants.map((v) => v.variantId))) return;
    await once(e, (trx) => stock.startTracking(trx, product.id, variants, e.envelope.eventId));
  };
  const onProductUpdated = async (e: ConsumedEvent) => {
    const { product } = unpackPayload(e.envelope, ProductUpdatedSchema);
    if (!product) return;
    const variants = product.variants.map((v) => ({ variantId: v.id, initialOnHand: 0 }));
    if (await allTracked(variants.map((v) => v.variantId))) return;
    await once(e, (trx) => stock.startTracking(trx, product.id, variants, e.envelope.eventId));
  };
  const onProductDeleted = async (e: ConsumedEvent) => {
    const { variantIds } = unpackPayload(e.envelope, ProductDeletedSchema);
    const found = await getStocks(db, variantIds);
    if ([...found.values()].every((s) => s.discontinued)) return;
    await once(e, (trx) => stock.discontinue(trx, variantIds));
  };
  // The reservation's status makes these two idempotent on its own; the inbox row is written
  // in the same statement as the change, and an event that changes nothing writes nothing.
  const inboxEntry = (e: ConsumedEvent) => ({
    consumer: CONSUMER_GROUP,
    eventId: e.envelope.eventId,
  });
  const onOrderCancelled = async (e: ConsumedEvent) => {
    const { orderId, reason } = unpackPayload(e.envelope, OrderCancelledSchema);
    await reservations.releaseForEvent(orderId, releaseReasonFor(reason), inboxEntry(e));
  };
  const onShipmentCreated = async (e: ConsumedEvent) => {
    const { orderId } = unpackPayload(e.envelope, ShipmentCreatedSchema);
    await reservations.fulfilForEvent(orderId, inboxEntry(e));
  };

  const handlers: Record<
    (typeof APPLIED_EVENT_TYPES)[number],
    (e: ConsumedEvent) => Promise<void>
  > = {
    "product.created": onProductCreated,
    "product.updated": onProductUpdated,
    "product.deleted": onProductDeleted,
    "order.cancelled": onOrderCancelled,
    "shipment.created": onShipmentCreated,
  };
  return async (e) => {
    const handler = handlers[e.envelope.eventType as keyof typeof handlers];
    if (handler) await handler(e);
  };
}
