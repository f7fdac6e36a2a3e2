import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { InventoryReleasedSchema } from "@shopmesh/gen/shopmesh/events/v1/inventory_events_pb.js";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderDeliveredSchema,
  OrderPlacedSchema,
  OrderShippedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/order_events_pb.js";
import {
  type PaymentFailed,
  PaymentFailedSchema,
  PaymentRefundedSchema,
  type PaymentSuccessful,
  PaymentSuccessfulSchema,
} from "@shopmesh/gen/shopmesh/events/v1/payment_events_pb.js";
import {
  ShipmentCreatedSchema,
  ShipmentStatusUpdatedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/shipping_events_pb.js";
import { ReleaseReason } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { DeclineCode } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { ShipmentStatus } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import {
  type EventEnvelope,
  type NewEvent,
  unpackPayload,
} from "@shopmesh/platform/event-envelope";
import type { Kafka } from "@shopmesh/platform/kafka";
import { type RunningConsumer, startConsumer } from "@shopmesh/platform/kafka-consumer";
import type { Logger } from "@shopmesh/platform/logger";
import { nextStepKind } from "./domain/next-step.ts";
import { InvalidTransitionError, type Order } from "./domain/order.ts";
import * as saga from "./domain/transitions.ts";
import {
  fromProtoMoney,
  toProtoItem,
  toProtoPayment,
  toProtoReason,
  toProtoShipment,
  toProtoStatus,
  toProtoTotals,
} from "./proto-mapping.ts";
import { shipmentSummary } from "./saga/steps.ts";
import type { OrderStore } from "./store.ts";

/** Topic the order service publishes to. */
export const ORDERS_TOPIC = "orders";
/** Topics the order service consumes: the saga participants' streams. */
export const CONSUMED_TOPICS = ["inventory", "payments", "shipments"] as const;

/** Builds the outbox events for the domain events of a transition, payloads from the order. */
export function orderEvents(order: Order, t: saga.Transition): NewEvent[] {
  const base = {
    topic: ORDERS_TOPIC,
    aggregateType: "order",
    aggregateId: order.id,
    producer: "order",
  };
  const common = {
    orderId: order.id,
    userId: order.userId,
    items: order.items.map(toProtoItem),
  };
  return t.events.map((type): NewEvent => {
    switch (type) {
      case "order.placed":
        return {
          ...base,
          eventType: type,
          payloadSchema: OrderPlacedSchema,
          payload: create(OrderPlacedSchema, {
            ...common,
            totals: toProtoTotals(order.totals),
            currencyCode: order.currencyCode,
            shippingAddress: order.shippingAddress,
            serviceLevel: order.serviceLevel,
            carrierCode: order.carrierCode,
            placedAt: timestampFromDate(order.createdAt),
          }),
        };
      case "order.confirmed":
        return {
          ...base,
          eventType: type,
          payloadSchema: OrderConfirmedSchema,
          payload: create(OrderConfirmedSchema, {
            ...common,
            totals: toProtoTotals(order.totals),
            currencyCode: order.currencyCode,
            shippingAddress: order.shippingAddress,
            serviceLevel: order.serviceLevel,
            carrierCode: order.carrierCode,
            ...(order.payment ? { payment: toProtoPayment(order.payment) } : {}),
            confirmedAt: timestampFromDate(order.updatedAt),
          }),
        };
      case "order.cancelled": {
        const c = order.cancellation!;
        return {
          ...base,
          eventType: type,
          payloadSchema: OrderCancelledSchema,
          payload: create(OrderCancelledSchema, {
            ...common,
            reason: toProtoReason(c.reason),
            detail: c.detail,
            previousStatus: toProtoStatus(c.previousStatus),
            paymentState: PaymentStateNumber[order.paymentState],
            totals: toProtoTotals(order.totals),
            currencyCode: order.currencyCode,
            cancelledByUserId: c.cancelledByUserId,
            cancelledAt: timestampFromDate(c.cancelledAt),
          }),
        };
      }
      case "order.shipped":
        return {
          ...base,
          eventType: type,
          payloadSchema: OrderShippedSchema,
          payload: create(OrderShippedSchema, {
            ...common,
            ...(order.shipment ? { shipment: toProtoShipment(order.shipment) } : {}),
            shippingAddress: order.shippingAddress,
            shippedAt: timestampFromDate(order.shipment?.shippedAt ?? order.updatedAt),
          }),
        };
      case "order.delivered":
        return {
          ...base,
          eventType: type,
          payloadSchema: OrderDeliveredSchema,
          payload: create(OrderDeliveredSchema, {
            ...common,
            ...(order.shipment ? { shipment: toProtoShipment(order.shipment) } : {}),
            deliveredAt: timestampFromDate(order.shipment?.deliveredAt ?? order.updatedAt),
          }),
        };
      default:
        throw new Error(`no payload for order event ${String(type satisfies never)}`);
    }
  });
}

const PaymentStateNumber = {
  NOT_CHARGED: 1,
  CHARGED: 2,
  FAILED: 3,
  REFUND_PENDING: 4,
  REFUNDED: 5,
} as const;

/** What an event means for an order: which order, and the transition to apply. */
/** The payment summary a payment.successful or payment.failed event gives the order. */
function paymentOf(e: PaymentSuccessful | PaymentFailed) {
  return {
    paymentId: e.paymentId,
    card: e.card,
    amount: fromProtoMoney(e.amount),
    refundedAmount: { currencyCode: e.amount?.currencyCode ?? "", amountMinor: 0 },
  };
}

/**
 * The event types the order consumer applies; the consumer skips the others undecoded. Not
 * among them: inventory.reserved, inventory.reservation_failed and inventory.committed, the
 * answers to the saga's own ReserveStock and CommitReservation. The saga repeats those calls
 * (idempotent per order) until it has their answer, so the events could only repeat what it
 * records itself.
 */
export const APPLIED_EVENT_TYPES = [
  "inventory.released",
  "payment.successful",
  "payment.failed",
  "payment.refunded",
  "shipment.created",
  "shipment.status_updated",
] as const;

interface EventEffect {
  orderId: string;
  change: (order: Order) => saga.Transition;
  /** A successful charge: nothing to do once the order's charge is recorded. */
  charge?: true;
}

/**
 * Translates a saga participant's event into a domain transition. Unknown event types (stock
 * level crossings, ...) return undefined and are acknowledged untouched.
 */
export function effectOf(envelope: EventEnvelope): EventEffect | undefined {
  const at = new Date();
  const eventType = envelope.eventType as (typeof APPLIED_EVENT_TYPES)[number];
  switch (eventType) {
    case "inventory.released": {
      const e = unpackPayload(envelope, InventoryReleasedSchema);
      const detail =
        e.reason === ReleaseReason.EXPIRED ? "reservation expired" : "reservation released";
      return {
        orderId: e.orderId,
        change: (o) =>
          o.status === "CANCELLED"
            ? saga.markStockReleased(o)
            : saga.markReservationLost(o, { detail, at }),
      };
    }
    case "payment.successful": {
      const e = unpackPayload(envelope, PaymentSuccessfulSchema);
      const payment = paymentOf(e);
      return {
        orderId: e.orderId,
        change: (o) => saga.markPaid(o, { payment, at }),
        charge: true,
      };
    }
    case "payment.failed": {
      const e = unpackPayload(envelope, PaymentFailedSchema);
      const payment = paymentOf(e);
      const declineCode = DeclineCode[e.failure?.code ?? 0] ?? "DECLINED";
      return {
        orderId: e.orderId,
        change: (o) => saga.markPaymentDeclined(o, { payment, declineCode, at }),
      };
    }
    case "payment.refunded": {
      const e = unpackPayload(envelope, PaymentRefundedSchema);
      return {
        orderId: e.orderId,
        change: (o) =>
          saga.markRefunded(o, {
            refundedTotalMinor: Number(e.refundedTotal?.amountMinor ?? 0n),
            at,
          }),
      };
    }
    case "shipment.created": {
      const e = unpackPayload(envelope, ShipmentCreatedSchema);
      const shipment = shipmentSummary({ ...e, id: e.shipmentId, createdAt: e.createdAt });
      return { orderId: e.orderId, change: (o) => saga.markShipped(o, { shipment, at }) };
    }
    case "shipment.status_updated": {
      const e = unpackPayload(envelope, ShipmentStatusUpdatedSchema);
      const when = e.at ? new Date(Number(e.at.seconds) * 1000) : at;
      return {
        orderId: e.orderId,
        change: (o) => {
          if (e.status === ShipmentStatus.DELIVERED)
            return saga.markDelivered(o, { at: when, status: e.status });
          if (e.status === ShipmentStatus.CANCELLED) return saga.markShipmentCancelled(o);
          return saga.updateShipmentStatus(o, {
            status: e.status,
            estimatedDeliveryDate: e.estimatedDeliveryDate,
            at: when,
          });
        },
      };
    }
    default: {
      // Every applied type has its case (a missing one fails to compile); others do nothing.
      eventType satisfies never;
      return undefined;
    }
  }
}

/** Dependencies of {@link startOrderConsumer}. */
export interface OrderConsumerDeps {
  kafka: Kafka;
  store: OrderStore;
  logger: Logger;
  groupId: string;
  fromBeginning: boolean;
  /** Called after an event changed an order, so the saga continues without waiting a sweep. */
  onChanged: (orderId: string) => void;
  /** The saga run this process has in hand for an order, if any (see {@link SAGA_RUN_WAIT_MS}). */
  sagaRun?: (orderId: string) => Promise<void> | undefined;
}

/**
 * How long a payment.successful waits for this process's saga run of its order. The saga runs
 * the stock commit before it saves the charge, so the event often arrives first; waiting for
 * the run costs the consumer a little time and saves a read and a conflicting write, since the
 * run saves the charge itself. Bounded, and the event is still applied if the run did not
 * record the charge (it failed to save, or gave up): the event stays the safety net.
 */
export const SAGA_RUN_WAIT_MS = 1_000;

/**
 * Applies one consumed event to its order, at most once (inbox). An event the order already
 * reflects costs one read (no transaction, no inbox row), and a payment.successful for an
 * order this process has seen charged (the saga's own save, usually, waited for while its run
 * is in hand) costs none. Events about orders this database does not hold are acknowledged.
 */
export function createEventHandler(
  deps: Pick<OrderConsumerDeps, "store" | "logger" | "groupId" | "onChanged" | "sagaRun">,
): (event: { envelope: EventEnvelope }) => Promise<void> {
  const { store, logger } = deps;
  return async ({ envelope }) => {
    const effect = effectOf(envelope);
    if (!effect) return;
    if (effect.charge) {
      const run = store.chargeRecorded(effect.orderId) ? undefined : deps.sagaRun?.(effect.orderId);
      if (run) await Promise.race([run, sleep(SAGA_RUN_WAIT_MS, undefined, { ref: false })]);
      if (store.chargeRecorded(effect.orderId)) return;
    }
    try {
      const changed = await store.applyEvent(
        effect.orderId,
        { consumer: deps.groupId, eventId: envelope.eventId },
        effect.change,
      );
      // Only an order with saga work left is worth a claim; the rest wait for events.
      if (changed && nextStepKind(changed) !== "wait") deps.onChanged(effect.orderId);
    } catch (err) {
      // An event that does not fit the order (e.g. a decline for an order already past
      // payment) is a no-op by design; the saga's own calls drive the order forward.
      if (!(err instanceof InvalidTransitionError)) throw err;
      logger.warn(
        { err, eventType: envelope.eventType, eventId: envelope.eventId },
        "event ignored: it does not fit the order's state",
      );
    }
  };
}

/**
 * Consumes the inventory, payments and shipments topics ({@link APPLIED_EVENT_TYPES}) and
 * applies them to orders ({@link createEventHandler}). They matter for what only events
 * carry: a charge that succeeded after the saga gave up, deliveries, expired reservations.
 */
export async function startOrderConsumer(deps: OrderConsumerDeps): Promise<RunningConsumer> {
  return startConsumer({
    kafka: deps.kafka,
    groupId: deps.groupId,
    topics: CONSUMED_TOPICS,
    eventTypes: APPLIED_EVENT_TYPES,
    logger: deps.logger,
    fromBeginning: deps.fromBeginning,
    partitionsConsumedConcurrently: 3,
    handler: createEventHandler(deps),
  });
}
