import {
  type CancellationReason,
  InvalidTransitionError,
  type Order,
  type OrderItem,
  type OrderStatus,
  type OrderTotals,
  type PaymentSummary,
  type PostalAddress,
  rank,
  type ShipmentSummary,
} from "./order.ts";

/** Order events the domain emits; `events.ts` turns them into the proto payloads. */
export type OrderEventType =
  | "order.placed"
  | "order.confirmed"
  | "order.cancelled"
  | "order.shipped"
  | "order.delivered";

/** What every transition returns: the new order and the events to publish with it. */
export interface Transition {
  order: Order;
  events: OrderEventType[];
}

const unchanged = (order: Order): Transition => ({ order, events: [] });

function enter(order: Order, status: OrderStatus, at: Date, note: string): Order {
  return {
    ...order,
    status,
    updatedAt: at,
    statusHistory: [...order.statusHistory, { status, at, note }],
  };
}

/** True when `order` already reached `status` or went past it (including CANCELLED). */
function reached(order: Order, status: OrderStatus): boolean {
  return rank(order.status) >= rank(status);
}

/** Input of {@link placeOrder}: everything priced and quoted by the handler. */
export interface PlaceOrderInput {
  id: string;
  userId: string;
  idempotencyKey: string;
  items: OrderItem[];
  shippingAddress: PostalAddress;
  serviceLevel: number;
  carrierCode: string;
  currencyCode: string;
  totals: OrderTotals;
  now: Date;
  /** When the inventory step gives up. */
  reserveDeadlineAt: Date;
}

/**
 * Creates a PENDING order and emits order.placed, which starts the saga. The order is placed
 * with the bookkeeping of the charge and of the shipment already set (`chargeAttempted`,
 * `shipmentRequested`): the saga sends Charge as soon as the stock is reserved, and
 * CreateShipment as soon as the stock is committed, without saving the answers before, and
 * saves them all together (see the saga worker's run-ahead).
 */
export function placeOrder(input: PlaceOrderInput): Transition {
  const { now } = input;
  const order: Order = {
    id: input.id,
    userId: input.userId,
    status: "PENDING",
    paymentState: "NOT_CHARGED",
    items: input.items,
    shippingAddress: input.shippingAddress,
    serviceLevel: input.serviceLevel,
    carrierCode: input.carrierCode,
    currencyCode: input.currencyCode,
    totals: input.totals,
    payment: undefined,
    shipment: undefined,
    cancellation: undefined,
    statusHistory: [{ status: "PENDING", at: now, note: "order placed" }],
    idempotencyKey: input.idempotencyKey,
    createdAt: now,
    updatedAt: now,
    saga: {
      stepDeadlineAt: input.reserveDeadlineAt,
      chargeAttempted: true,
      stockReleased: false,
      shipmentRequested: true,
      shipmentCancelled: false,
      lateChargeChecked: false,
    },
  };
  return { order, events: ["order.placed"] };
}

function cancelled(
  order: Order,
  reason: CancellationReason,
  detail: string,
  at: Date,
  byUserId = "",
): Order {
  const next = enter(order, "CANCELLED", at, `cancelled: ${reason}${detail ? ` (${detail})` : ""}`);
  return {
    ...next,
    paymentState: order.paymentState === "CHARGED" ? "REFUND_PENDING" : order.paymentState,
    cancellation: {
      reason,
      detail,
      cancelledByUserId: byUserId,
      cancelledAt: at,
      previousStatus: order.status,
    },
    saga: { ...order.saga, stepDeadlineAt: undefined },
  };
}

/** inventory reserved every line: PENDING -> STOCK_RESERVED; the payment deadline starts. */
export function markStockReserved(
  order: Order,
  evt: { reservationId: string; at: Date; paymentDeadlineAt: Date },
): Transition {
  if (order.status === "CANCELLED") {
    // A reservation that landed after the order gave up must be handed back.
    return unchanged({ ...order, saga: { ...order.saga, stockReleased: false } });
  }
  if (reached(order, "STOCK_RESERVED")) return unchanged(order);
  const next = enter(order, "STOCK_RESERVED", evt.at, `stock reserved (${evt.reservationId})`);
  return {
    order: { ...next, saga: { ...next.saga, stepDeadlineAt: evt.paymentDeadlineAt } },
    events: [],
  };
}

/**
 * inventory could not reserve: PENDING -> CANCELLED(OUT_OF_STOCK); nothing is held, and no
 * charge or shipment was ever asked for: the saga charges only after a reservation held, and a
 * reservation is decided once per order, so an order refused stock never had one.
 */
export function markOutOfStock(order: Order, evt: { detail: string; at: Date }): Transition {
  if (order.status !== "PENDING") return unchanged(order);
  const next = cancelled(order, "OUT_OF_STOCK", evt.detail, evt.at);
  return {
    order: {
      ...next,
      saga: { ...next.saga, stockReleased: true, chargeAttempted: false, shipmentRequested: false },
    },
    events: ["order.cancelled"],
  };
}

/**
 * The charge succeeded: STOCK_RESERVED -> PAID. On an order already CANCELLED (the payment
 * step timed out, or the user cancelled while the charge was in flight) the money is owed
 * back: payment_state becomes REFUND_PENDING and the saga refunds it.
 */
export function markPaid(order: Order, evt: { payment: PaymentSummary; at: Date }): Transition {
  if (order.status === "CANCELLED") {
    if (order.paymentState === "NOT_CHARGED" || order.paymentState === "FAILED") {
      return unchanged({
        ...order,
        paymentState: "REFUND_PENDING",
        payment: evt.payment,
        updatedAt: evt.at,
        statusHistory: [
          ...order.statusHistory,
          {
            status: "CANCELLED",
            at: evt.at,
            note: `late charge ${evt.payment.paymentId}; refunding`,
          },
        ],
      });
    }
    return unchanged(order);
  }
  if (reached(order, "PAID")) return unchanged(order);
  if (order.status !== "STOCK_RESERVED")
    throw new InvalidTransitionError(order.id, order.status, "mark paid");
  const next = enter(order, "PAID", evt.at, `payment ${evt.payment.paymentId} succeeded`);
  return {
    order: {
      ...next,
      paymentState: "CHARGED",
      payment: evt.payment,
      saga: { ...next.saga, stepDeadlineAt: undefined },
    },
    events: [],
  };
}

/** The charge was declined: STOCK_RESERVED -> CANCELLED(PAYMENT_DECLINED); stock goes back. */
export function markPaymentDeclined(
  order: Order,
  evt: { payment: PaymentSummary; declineCode: string; at: Date },
): Transition {
  if (reached(order, "PAID")) {
    if (order.status === "CANCELLED" && order.paymentState === "NOT_CHARGED") {
      return unchanged({ ...order, paymentState: "FAILED", payment: order.payment ?? evt.payment });
    }
    return unchanged(order);
  }
  if (order.status !== "STOCK_RESERVED") {
    throw new InvalidTransitionError(order.id, order.status, "decline the payment");
  }
  // A charge is decided once per order, so a declined order was never paid, never confirmed,
  // and no shipment was ever asked for.
  const next = cancelled(order, "PAYMENT_DECLINED", evt.declineCode, evt.at);
  return {
    order: {
      ...next,
      paymentState: "FAILED",
      payment: evt.payment,
      saga: { ...next.saga, shipmentRequested: false },
    },
    events: ["order.cancelled"],
  };
}

/** Stock committed after payment: PAID -> CONFIRMED (order.confirmed). */
export function markConfirmed(order: Order, evt: { at: Date }): Transition {
  if (order.status === "CANCELLED") {
    // The commit landed after the order gave up (a cancel raced the call): the committed stock
    // must be handed back. If the release ran first the commit could not have landed, and a
    // second release changes nothing.
    return unchanged({ ...order, saga: { ...order.saga, stockReleased: false } });
  }
  if (reached(order, "CONFIRMED")) return unchanged(order);
  if (order.status !== "PAID") throw new InvalidTransitionError(order.id, order.status, "confirm");
  return {
    order: enter(order, "CONFIRMED", evt.at, "stock committed"),
    events: ["order.confirmed"],
  };
}

/**
 * A shipment was booked: CONFIRMED -> SHIPPED (order.shipped). On a CANCELLED order the
 * shipment is unwanted, so the saga cancels it.
 */
export function markShipped(
  order: Order,
  evt: { shipment: ShipmentSummary; at: Date },
): Transition {
  if (order.status === "CANCELLED") {
    return unchanged({
      ...order,
      saga: { ...order.saga, shipmentRequested: true, shipmentCancelled: false },
    });
  }
  if (reached(order, "SHIPPED")) return unchanged(order);
  if (order.status !== "CONFIRMED")
    throw new InvalidTransitionError(order.id, order.status, "ship");
  const next = enter(
    order,
    "SHIPPED",
    evt.at,
    `shipped with ${evt.shipment.carrierName || evt.shipment.carrierCode} (${evt.shipment.trackingNumber})`,
  );
  return {
    order: {
      ...next,
      shipment: { ...evt.shipment, shippedAt: evt.shipment.shippedAt ?? evt.at },
      saga: { ...next.saga, shipmentRequested: true },
    },
    events: ["order.shipped"],
  };
}

/** The shipment's status moved (carrier scans); recorded on the order's shipment summary. */
export function updateShipmentStatus(
  order: Order,
  evt: { status: number; estimatedDeliveryDate: string; at: Date },
): Transition {
  if (!order.shipment || order.status === "DELIVERED") return unchanged(order);
  return unchanged({
    ...order,
    updatedAt: evt.at,
    shipment: {
      ...order.shipment,
      status: evt.status,
      estimatedDeliveryDate: evt.estimatedDeliveryDate || order.shipment.estimatedDeliveryDate,
    },
  });
}

/** The carrier delivered: SHIPPED -> DELIVERED (order.delivered). */
export function markDelivered(order: Order, evt: { at: Date; status: number }): Transition {
  if (order.status === "DELIVERED" || order.status === "CANCELLED") return unchanged(order);
  if (order.status !== "SHIPPED" || !order.shipment) {
    throw new InvalidTransitionError(order.id, order.status, "deliver");
  }
  const next = enter(order, "DELIVERED", evt.at, "delivered");
  return {
    order: { ...next, shipment: { ...order.shipment, status: evt.status, deliveredAt: evt.at } },
    events: ["order.delivered"],
  };
}

/**
 * A user or admin cancels: any status before SHIPPED -> CANCELLED (order.cancelled). A charged
 * order becomes REFUND_PENDING. Cancelling a cancelled order changes nothing; a shipped or
 * delivered one cannot be cancelled.
 */
export function cancelOrder(
  order: Order,
  cmd: { reason: "USER_REQUESTED" | "ADMIN_REQUESTED"; detail: string; byUserId: string; at: Date },
): Transition {
  if (order.status === "CANCELLED") return unchanged(order);
  if (reached(order, "SHIPPED")) throw new InvalidTransitionError(order.id, order.status, "cancel");
  return {
    order: cancelled(order, cmd.reason, cmd.detail, cmd.at, cmd.byUserId),
    events: ["order.cancelled"],
  };
}

/**
 * A forward step passed its deadline without an answer: PENDING -> CANCELLED(INVENTORY_TIMEOUT),
 * STOCK_RESERVED -> CANCELLED(PAYMENT_TIMEOUT). Anything else, or a deadline not yet passed,
 * is left alone.
 */
export function timeOutStep(order: Order, now: Date): Transition {
  const deadline = order.saga.stepDeadlineAt;
  if (!deadline || now < deadline) return unchanged(order);
  if (order.status === "PENDING") {
    return {
      order: cancelled(order, "INVENTORY_TIMEOUT", "inventory did not answer in time", now),
      events: ["order.cancelled"],
    };
  }
  if (order.status === "STOCK_RESERVED") {
    return {
      order: cancelled(order, "PAYMENT_TIMEOUT", "payment did not answer in time", now),
      events: ["order.cancelled"],
    };
  }
  return unchanged(order);
}

/**
 * The reservation expired or was released before it was committed: an order still waiting on
 * it is cancelled (RESERVATION_EXPIRED; refunded if it was already charged).
 */
export function markReservationLost(order: Order, evt: { detail: string; at: Date }): Transition {
  if (order.status !== "PENDING" && order.status !== "STOCK_RESERVED" && order.status !== "PAID") {
    return unchanged(order);
  }
  const next = cancelled(order, "RESERVATION_EXPIRED", evt.detail, evt.at);
  return {
    order: { ...next, saga: { ...next.saga, stockReleased: true } },
    events: ["order.cancelled"],
  };
}

/** Stock of a cancelled order is back in inventory. */
export function markStockReleased(order: Order): Transition {
  if (order.status !== "CANCELLED" || order.saga.stockReleased) return unchanged(order);
  return unchanged({ ...order, saga: { ...order.saga, stockReleased: true } });
}

/** The shipment of a cancelled order is cancelled (or never existed). */
export function markShipmentCancelled(order: Order): Transition {
  if (order.saga.shipmentCancelled) return unchanged(order);
  return unchanged({ ...order, saga: { ...order.saga, shipmentCancelled: true } });
}

/** Payment was asked whether a charge slipped through after the cancel; it answered. */
export function markLateChargeChecked(order: Order): Transition {
  if (order.saga.lateChargeChecked) return unchanged(order);
  return unchanged({ ...order, saga: { ...order.saga, lateChargeChecked: true } });
}

/** Money went back: REFUND_PENDING -> REFUNDED once the whole charge is returned. */
export function markRefunded(
  order: Order,
  evt: { refundedTotalMinor: number; at: Date },
): Transition {
  if (!order.payment) return unchanged(order);
  const refundedAmount = {
    currencyCode: order.payment.amount.currencyCode,
    amountMinor: Math.max(order.payment.refundedAmount.amountMinor, evt.refundedTotalMinor),
  };
  const full = refundedAmount.amountMinor >= order.payment.amount.amountMinor;
  if (
    order.paymentState === "REFUNDED" &&
    refundedAmount.amountMinor === order.payment.refundedAmount.amountMinor
  ) {
    return unchanged(order);
  }
  return unchanged({
    ...order,
    updatedAt: evt.at,
    paymentState: full && order.paymentState === "REFUND_PENDING" ? "REFUNDED" : order.paymentState,
    payment: { ...order.payment, refundedAmount },
  });
}
