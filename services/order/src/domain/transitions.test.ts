import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isSettled, nextStepKind } from "./next-step.ts";
import {
  InvalidTransitionError,
  type Order,
  type OrderStatus,
  type PaymentSummary,
} from "./order.ts";
import {
  cancelOrder,
  markConfirmed,
  markDelivered,
  markLateChargeChecked,
  markOutOfStock,
  markPaid,
  markPaymentDeclined,
  markRefunded,
  markReservationLost,
  markShipmentCancelled,
  markShipped,
  markStockReleased,
  markStockReserved,
  placeOrder,
  timeOutStep,
} from "./transitions.ts";

const T0 = new Date("2026-01-01T00:00:00Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const usd = (amountMinor: number) => ({ currencyCode: "USD", amountMinor });
const payment: PaymentSummary = {
  paymentId: "pay-1",
  card: { brand: 1, last4: "4242", expMonth: 1, expYear: 2030 },
  amount: usd(1500),
  refundedAmount: usd(0),
};
const shipment = {
  shipmentId: "shp-1",
  carrierCode: "mockship",
  carrierName: "MockShip",
  trackingNumber: "MS123456",
  trackingUrl: "",
  status: 1,
  estimatedDeliveryDate: "",
  shippedAt: undefined,
  deliveredAt: undefined,
};

function place() {
  return placeOrder({
    id: "order-1",
    userId: "user-1",
    idempotencyKey: "key-00000001",
    items: [],
    shippingAddress: {
      fullName: "A",
      line1: "1 Main St",
      line2: "",
      city: "Austin",
      region: "TX",
      postalCode: "78701",
      countryCode: "US",
      phone: "",
    },
    serviceLevel: 1,
    carrierCode: "",
    currencyCode: "USD",
    totals: {
      subtotal: usd(1000),
      shipping: usd(500),
      tax: usd(0),
      discount: usd(0),
      total: usd(1500),
    },
    now: T0,
    reserveDeadlineAt: at(30),
  });
}
const pending = () => place().order;
const reserved = () =>
  markStockReserved(pending(), { reservationId: "r1", at: at(1), paymentDeadlineAt: at(60) }).order;
const paid = () => markPaid(reserved(), { payment, at: at(2) }).order;
const confirmed = () => markConfirmed(paid(), { at: at(3) }).order;
const shipped = () => markShipped(confirmed(), { shipment, at: at(4) }).order;
const delivered = () => markDelivered(shipped(), { at: at(5), status: 5 }).order;

const builders: Record<Exclude<OrderStatus, "CANCELLED">, () => Order> = {
  PENDING: pending,
  STOCK_RESERVED: reserved,
  PAID: paid,
  CONFIRMED: confirmed,
  SHIPPED: shipped,
  DELIVERED: delivered,
};

describe("order state machine: the happy path", () => {
  test("placing an order makes it PENDING, emits order.placed and asks the saga to reserve stock", () => {
    const { order, events } = place();
    assert.equal(order.status, "PENDING");
    assert.equal(order.paymentState, "NOT_CHARGED");
    assert.deepEqual(events, ["order.placed"]);
    assert.equal(nextStepKind(order, at(1)), "reserve_stock");
  });

  test("walks PENDING -> STOCK_RESERVED -> PAID -> CONFIRMED -> SHIPPED -> DELIVERED with history", () => {
    const order = delivered();
    assert.equal(order.status, "DELIVERED");
    assert.deepEqual(
      order.statusHistory.map((h) => h.status),
      ["PENDING", "STOCK_RESERVED", "PAID", "CONFIRMED", "SHIPPED", "DELIVERED"],
    );
    assert.equal(order.paymentState, "CHARGED");
    assert.equal(order.shipment?.deliveredAt?.getTime(), at(5).getTime());
    assert.ok(isSettled(order));
  });

  test("each forward step emits its event and asks the saga for the next step", () => {
    assert.equal(nextStepKind(reserved(), at(2)), "charge");
    assert.equal(nextStepKind(paid(), at(3)), "commit_stock");
    const c = markConfirmed(paid(), { at: at(3) });
    assert.deepEqual(c.events, ["order.confirmed"]);
    assert.equal(nextStepKind(c.order), "create_shipment");
    const s = markShipped(c.order, { shipment, at: at(4) });
    assert.deepEqual(s.events, ["order.shipped"]);
    assert.equal(nextStepKind(s.order), "wait");
    assert.deepEqual(markDelivered(s.order, { at: at(5), status: 5 }).events, ["order.delivered"]);
  });
});

describe("order state machine: duplicate and late events change nothing", () => {
  const cases: [string, (o: Order) => ReturnType<typeof markPaid>][] = [
    [
      "stock reserved",
      (o) => markStockReserved(o, { reservationId: "r1", at: at(9), paymentDeadlineAt: at(99) }),
    ],
    ["paid", (o) => markPaid(o, { payment, at: at(9) })],
    ["confirmed", (o) => markConfirmed(o, { at: at(9) })],
    ["shipped", (o) => markShipped(o, { shipment, at: at(9) })],
    ["delivered", (o) => markDelivered(o, { at: at(9), status: 5 })],
    ["out of stock", (o) => markOutOfStock(o, { detail: "x", at: at(9) })],
  ];
  const ranks = ["STOCK_RESERVED", "PAID", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"];
  for (const [name, apply] of cases) {
    for (const status of Object.keys(builders) as (keyof typeof builders)[]) {
      const target = ranks[cases.findIndex((c) => c[0] === name)] ?? "CANCELLED";
      const targetRank = ["PENDING", ...ranks].indexOf(target);
      const fromRank = ["PENDING", ...ranks].indexOf(status);
      if (fromRank < targetRank && name !== "out of stock") continue;
      if (name === "out of stock" && status === "PENDING") continue;
      test(`a ${name} event on a ${status} order is a no-op`, () => {
        const order = builders[status]();
        const result = apply(order);
        assert.deepEqual(result.events, []);
        assert.equal(result.order.status, order.status);
        assert.deepEqual(result.order.statusHistory, order.statusHistory);
      });
    }
  }

  test("a second cancel of a cancelled order returns it unchanged", () => {
    const once = cancelOrder(reserved(), {
      reason: "USER_REQUESTED",
      detail: "",
      byUserId: "user-1",
      at: at(5),
    });
    const twice = cancelOrder(once.order, {
      reason: "USER_REQUESTED",
      detail: "",
      byUserId: "user-1",
      at: at(6),
    });
    assert.deepEqual(twice.events, []);
    assert.deepEqual(twice.order, once.order);
  });

  test("a decline after the order was paid is ignored", () => {
    const order = paid();
    const result = markPaymentDeclined(order, { payment, declineCode: "CARD_DECLINED", at: at(9) });
    assert.deepEqual(result.events, []);
    assert.equal(result.order.status, "PAID");
    assert.equal(result.order.paymentState, "CHARGED");
  });
});

describe("order state machine: invalid transitions throw a typed error", () => {
  const invalid: [OrderStatus, string, (o: Order) => unknown][] = [
    ["PENDING", "mark paid", (o) => markPaid(o, { payment, at: at(9) })],
    ["PENDING", "decline", (o) => markPaymentDeclined(o, { payment, declineCode: "X", at: at(9) })],
    ["PENDING", "confirm", (o) => markConfirmed(o, { at: at(9) })],
    ["STOCK_RESERVED", "confirm", (o) => markConfirmed(o, { at: at(9) })],
    ["PENDING", "ship", (o) => markShipped(o, { shipment, at: at(9) })],
    ["PAID", "ship", (o) => markShipped(o, { shipment, at: at(9) })],
    ["CONFIRMED", "deliver", (o) => markDelivered(o, { at: at(9), status: 5 })],
    ["PENDING", "deliver", (o) => markDelivered(o, { at: at(9), status: 5 })],
    [
      "SHIPPED",
      "cancel",
      (o) => cancelOrder(o, { reason: "USER_REQUESTED", detail: "", byUserId: "u", at: at(9) }),
    ],
    [
      "DELIVERED",
      "cancel",
      (o) => cancelOrder(o, { reason: "ADMIN_REQUESTED", detail: "", byUserId: "u", at: at(9) }),
    ],
  ];
  for (const [status, action, apply] of invalid) {
    test(`${action} on a ${status} order throws InvalidTransitionError`, () => {
      const order = builders[status as keyof typeof builders]();
      assert.throws(
        () => apply(order),
        (err: unknown) => {
          assert.ok(err instanceof InvalidTransitionError);
          assert.equal(err.from, status);
          assert.match(err.message, /order-1/);
          return true;
        },
      );
    });
  }
});

describe("order state machine: cancellation and compensation", () => {
  test("out of stock cancels a PENDING order with nothing to release", () => {
    const { order, events } = markOutOfStock(pending(), { detail: "v1 short by 2", at: at(1) });
    assert.equal(order.status, "CANCELLED");
    assert.equal(order.cancellation?.reason, "OUT_OF_STOCK");
    assert.deepEqual(events, ["order.cancelled"]);
    assert.equal(nextStepKind(order), "wait");
  });

  test("a declined payment cancels with PAYMENT_DECLINED and asks the saga to release stock", () => {
    const { order, events } = markPaymentDeclined(reserved(), {
      payment,
      declineCode: "CARD_DECLINED",
      at: at(2),
    });
    assert.equal(order.status, "CANCELLED");
    assert.equal(order.paymentState, "FAILED");
    assert.equal(order.cancellation?.reason, "PAYMENT_DECLINED");
    assert.equal(order.cancellation?.detail, "CARD_DECLINED");
    assert.deepEqual(events, ["order.cancelled"]);
    assert.equal(nextStepKind(order), "release_stock");
    assert.equal(nextStepKind(markStockReleased(order).order), "wait");
  });

  test("a user cancel after payment releases, refunds and cancels any shipment, then the order is settled", () => {
    const { order, events } = cancelOrder(paid(), {
      reason: "USER_REQUESTED",
      detail: "changed my mind",
      byUserId: "user-1",
      at: at(3),
    });
    assert.deepEqual(events, ["order.cancelled"]);
    assert.equal(order.paymentState, "REFUND_PENDING");
    assert.equal(order.cancellation?.previousStatus, "PAID");
    assert.equal(order.cancellation?.cancelledByUserId, "user-1");
    assert.equal(nextStepKind(order), "release_stock");
    const released = markStockReleased(order).order;
    assert.equal(nextStepKind(released), "refund");
    const refunded = markRefunded(released, { refundedTotalMinor: 1500, at: at(4) }).order;
    assert.equal(refunded.paymentState, "REFUNDED");
    assert.equal(refunded.payment?.refundedAmount.amountMinor, 1500);
    // CreateShipment may have gone out with the answers before the cancel was seen.
    assert.equal(nextStepKind(refunded), "cancel_shipment");
    assert.ok(isSettled(markShipmentCancelled(refunded).order));
  });

  test("a partial refund keeps the payment REFUND_PENDING", () => {
    const order = markStockReleased(
      cancelOrder(paid(), { reason: "ADMIN_REQUESTED", detail: "", byUserId: "admin", at: at(3) })
        .order,
    ).order;
    assert.equal(
      markRefunded(order, { refundedTotalMinor: 100, at: at(4) }).order.paymentState,
      "REFUND_PENDING",
    );
  });

  test("cancelling a CONFIRMED order refunds it before the shipment is cancelled", () => {
    const order = confirmed();
    const cancelled = markStockReleased(
      cancelOrder(order, { reason: "USER_REQUESTED", detail: "", byUserId: "user-1", at: at(5) })
        .order,
    ).order;
    assert.equal(nextStepKind(cancelled), "refund");
    const refunded = markRefunded(cancelled, { refundedTotalMinor: 1500, at: at(6) }).order;
    assert.equal(nextStepKind(refunded), "cancel_shipment");
    assert.equal(nextStepKind(markShipmentCancelled(refunded).order), "wait");
  });

  test("a shipment booked after the cancel is cancelled by the saga", () => {
    const released = markStockReleased(
      cancelOrder(confirmed(), { reason: "USER_REQUESTED", detail: "", byUserId: "u", at: at(5) })
        .order,
    ).order;
    const refunded = markRefunded(released, { refundedTotalMinor: 1500, at: at(6) }).order;
    const cancelled = markShipmentCancelled(refunded).order;
    assert.equal(nextStepKind(cancelled), "wait");
    const late = markShipped(cancelled, { shipment, at: at(7) });
    assert.deepEqual(late.events, []);
    assert.equal(late.order.status, "CANCELLED");
    assert.equal(nextStepKind(late.order), "cancel_shipment");
  });

  test("PENDING past its deadline times out into INVENTORY_TIMEOUT and releases", () => {
    const order = pending();
    assert.equal(nextStepKind(order, at(29)), "reserve_stock");
    assert.equal(nextStepKind(order, at(30)), "time_out");
    assert.deepEqual(timeOutStep(order, at(29)).events, []);
    const { order: timedOut, events } = timeOutStep(order, at(31));
    assert.deepEqual(events, ["order.cancelled"]);
    assert.equal(timedOut.cancellation?.reason, "INVENTORY_TIMEOUT");
    assert.equal(nextStepKind(timedOut), "release_stock");
  });

  test("a payment that never answers times out, and the saga then checks for a late charge", () => {
    const order = reserved();
    assert.equal(nextStepKind(order, at(59)), "charge");
    const { order: timedOut } = timeOutStep(order, at(61));
    assert.equal(timedOut.cancellation?.reason, "PAYMENT_TIMEOUT");
    const released = markStockReleased(timedOut).order;
    assert.equal(nextStepKind(released), "check_late_charge");
    const checked = markLateChargeChecked(released).order;
    assert.equal(nextStepKind(checked), "cancel_shipment");
    assert.equal(nextStepKind(markShipmentCancelled(checked).order), "wait");
  });

  test("a late successful charge on a cancelled order is refunded", () => {
    const timedOut = markStockReleased(timeOutStep(reserved(), at(61)).order).order;
    const late = markPaid(timedOut, { payment, at: at(62) });
    assert.deepEqual(late.events, []);
    assert.equal(late.order.status, "CANCELLED");
    assert.equal(late.order.paymentState, "REFUND_PENDING");
    assert.equal(late.order.payment?.paymentId, "pay-1");
    assert.equal(nextStepKind(late.order), "refund");
    // The same success seen twice owes only one refund.
    assert.deepEqual(markPaid(late.order, { payment, at: at(63) }).order, late.order);
  });

  test("a reservation that lands after an inventory timeout is released again", () => {
    const released = markStockReleased(timeOutStep(pending(), at(31)).order).order;
    // A run may have gone on past the reservation without saving before it stopped: payment
    // and shipping are asked.
    assert.equal(nextStepKind(released), "check_late_charge");
    const checked = markLateChargeChecked(released).order;
    assert.equal(nextStepKind(checked), "cancel_shipment");
    const timedOut = markShipmentCancelled(checked).order;
    assert.equal(nextStepKind(timedOut), "wait");
    const late = markStockReserved(timedOut, {
      reservationId: "r1",
      at: at(32),
      paymentDeadlineAt: at(90),
    });
    assert.equal(late.order.status, "CANCELLED");
    assert.equal(nextStepKind(late.order), "release_stock");
  });

  test("a commit that lands after a cancel hands the stock back again", () => {
    const cancelledPaid = markStockReleased(
      cancelOrder(paid(), { reason: "USER_REQUESTED", detail: "", byUserId: "u", at: at(5) }).order,
    ).order;
    assert.equal(nextStepKind(cancelledPaid), "refund");
    const late = markConfirmed(cancelledPaid, { at: at(6) });
    assert.deepEqual(late.events, []);
    assert.equal(late.order.status, "CANCELLED");
    assert.equal(late.order.paymentState, "REFUND_PENDING");
    assert.equal(nextStepKind(late.order), "release_stock");
  });

  test("an expired reservation cancels a PAID order and refunds it", () => {
    const { order, events } = markReservationLost(paid(), {
      detail: "reservation expired",
      at: at(9),
    });
    assert.deepEqual(events, ["order.cancelled"]);
    assert.equal(order.cancellation?.reason, "RESERVATION_EXPIRED");
    assert.equal(order.paymentState, "REFUND_PENDING");
    assert.equal(nextStepKind(order), "refund");
    assert.deepEqual(markReservationLost(confirmed(), { detail: "x", at: at(9) }).events, []);
  });
});
