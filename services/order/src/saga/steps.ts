import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { InventoryService } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import {
  ReleaseReason,
  ReservationStatus,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import {
  DeclineCode,
  type Payment,
  type PaymentService,
  PaymentStatus,
  RefundReason,
} from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import {
  ServiceLevel,
  type ShippingService,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { Code, RpcError } from "@shopmesh/platform/errors";
import type { Client } from "@shopmesh/platform/grpc-client";
import type { SagaStepKind } from "../domain/next-step.ts";
import type { Order, PaymentSummary, ShipmentSummary } from "../domain/order.ts";
import { totalWeightGrams } from "../domain/pricing.ts";
import * as saga from "../domain/transitions.ts";
import { fromProtoMoney, toProtoMoney } from "../proto-mapping.ts";

/** The saga participants, each a platform client (deadline, breaker, retry on UNAVAILABLE). */
export interface SagaClients {
  inventory: Client<typeof InventoryService>;
  payment: Client<typeof PaymentService>;
  shipping: Client<typeof ShippingService>;
}

/** A change to apply to the freshly locked order once a step's call answered. */
export type Change = (order: Order) => saga.Transition;

/** What a step needs besides the clients. */
export interface StepInput {
  order: Order;
  paymentToken: string | null;
  attempts: number;
  reservationTtlSeconds: number;
  paymentDeadline: () => Date;
}

/** The idempotency key of an order's charge: one per order, so a retry never charges twice. */
export const chargeKey = (orderId: string) => `order-${orderId}-charge`;
/** The idempotency key of an order's refund. */
export const refundKey = (orderId: string) => `order-${orderId}-refund`;

const toDate = (t: Timestamp | undefined) =>
  t ? new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)) : undefined;

/** A shipment (from CreateShipment or shipment.created) as the order keeps it. */
export function shipmentSummary(s: {
  id: string;
  carrierCode: string;
  carrierName: string;
  trackingNumber: string;
  trackingUrl: string;
  status: number;
  estimatedDeliveryDate: string;
  createdAt?: Timestamp | undefined;
}): ShipmentSummary {
  return {
    shipmentId: s.id,
    carrierCode: s.carrierCode,
    carrierName: s.carrierName,
    trackingNumber: s.trackingNumber,
    trackingUrl: s.trackingUrl,
    status: s.status,
    estimatedDeliveryDate: s.estimatedDeliveryDate,
    shippedAt: toDate(s.createdAt),
    deliveredAt: undefined,
  };
}

function paymentSummary(p: Payment, currency: string): PaymentSummary {
  return {
    paymentId: p.id,
    card: p.method,
    amount: fromProtoMoney(p.amount, currency),
    refundedAmount: fromProtoMoney(p.refundedAmount, currency),
  };
}

/** The change a payment's current state implies for its order. */
function fromPayment(p: Payment, order: Order, at: Date): Change {
  const summary = paymentSummary(p, order.currencyCode);
  switch (p.status) {
    case PaymentStatus.SUCCEEDED:
      return (o) => saga.markPaid(o, { payment: summary, at });
    case PaymentStatus.PARTIALLY_REFUNDED:
    case PaymentStatus.REFUNDED:
      return (o) => {
        const paid = saga.markPaid(o, { payment: summary, at });
        const refunded = saga.markRefunded(paid.order, {
          refundedTotalMinor: summary.refundedAmount.amountMinor,
          at,
        });
        return { order: refunded.order, events: paid.events };
      };
    case PaymentStatus.FAILED:
      return (o) =>
        saga.markPaymentDeclined(o, {
          payment: summary,
          declineCode: DeclineCode[p.failure?.code ?? 0] ?? "DECLINED",
          at,
        });
    default:
      throw new Error(
        `payment ${p.id} for order ${order.id} is still ${PaymentStatus[p.status]}; asking again later`,
      );
  }
}

const isCode = (err: unknown, code: Code) => err instanceof RpcError && err.code === code;

function releaseReason(order: Order): ReleaseReason {
  switch (order.cancellation?.reason) {
    case "PAYMENT_DECLINED":
      return ReleaseReason.PAYMENT_FAILED;
    case "PAYMENT_TIMEOUT":
    case "INVENTORY_TIMEOUT":
      return ReleaseReason.SAGA_TIMEOUT;
    default:
      return ReleaseReason.ORDER_CANCELLED;
  }
}

/**
 * Runs one saga step's remote call and returns the change its answer implies. Every call is
 * idempotent per order (ReserveStock, Release, Commit and shipments by order id; Charge and
 * Refund by keys derived from the order id), so running a step twice, after a crash or a lost
 * answer, has the effect of running it once. Throws when the answer is not known yet
 * (unavailable, deadline, payment still pending): the worker retries with backoff.
 */
export async function runStep(
  kind: SagaStepKind,
  input: StepInput,
  c: SagaClients,
): Promise<Change> {
  const { order } = input;
  // A status entry carries the time the step's answer came (`at` after each call), not the
  // time it was asked.
  switch (kind) {
    case "wait":
      return (o) => ({ order: o, events: [] });
    case "time_out": {
      const at = new Date();
      return (o) => saga.timeOutStep(o, at);
    }
    case "reserve_stock": {
      const { reservation } = await c.inventory.reserveStock({
        orderId: order.id,
        lines: order.items.map((i) => ({ variantId: i.variantId, quantity: i.quantity })),
        ttl: { seconds: BigInt(input.reservationTtlSeconds) },
      });
      const at = new Date();
      const status = reservation?.status;
      if (status === ReservationStatus.REJECTED) {
        const detail = (reservation?.shortages ?? [])
          .map((s) => `${s.variantId}: ${s.available} of ${s.requested} available`)
          .join("; ");
        return (o) => saga.markOutOfStock(o, { detail, at });
      }
      if (status === ReservationStatus.RELEASED || status === ReservationStatus.EXPIRED) {
        return (o) => saga.markReservationLost(o, { detail: "reservation no longer held", at });
      }
      const reservationId = reservation?.id ?? "";
      // The payment step's clock starts with the answer, not with the save after the calls
      // run ahead of it.
      const paymentDeadlineAt = input.paymentDeadline();
      return (o) => saga.markStockReserved(o, { reservationId, at, paymentDeadlineAt });
    }
    case "charge": {
      if (!input.paymentToken) {
        const at = new Date();
        return (o) =>
          saga.markPaymentDeclined(o, {
            payment: {
              paymentId: "",
              card: undefined,
              amount: order.totals.total,
              refundedAmount: { ...order.totals.total, amountMinor: 0 },
            },
            declineCode: "INVALID_TOKEN",
            at,
          });
      }
      try {
        const { payment } = await c.payment.charge({
          orderId: order.id,
          userId: order.userId,
          amount: toProtoMoney(order.totals.total),
          paymentMethodToken: input.paymentToken,
          idempotencyKey: chargeKey(order.id),
          description: `shopmesh order ${order.id}`,
        });
        if (!payment) throw new Error("Charge answered without a payment");
        return fromPayment(payment, order, new Date());
      } catch (err) {
        // Already charged under another key: adopt that payment rather than charge again.
        if (isCode(err, Code.FAILED_PRECONDITION)) {
          const { payment } = await c.payment.getPaymentByOrder({ orderId: order.id });
          if (payment) return fromPayment(payment, order, new Date());
        }
        throw err;
      }
    }
    case "commit_stock":
      try {
        await c.inventory.commitReservation({ orderId: order.id });
        const at = new Date();
        return (o) => saga.markConfirmed(o, { at });
      } catch (err) {
        if (!isCode(err, Code.FAILED_PRECONDITION)) throw err;
        const at = new Date();
        return (o) =>
          saga.markReservationLost(o, {
            detail: "reservation expired before it was committed",
            at,
          });
      }
    case "create_shipment": {
      const { shipment } = await c.shipping.createShipment({
        orderId: order.id,
        userId: order.userId,
        address: order.shippingAddress,
        carrierCode: order.carrierCode,
        serviceLevel: order.serviceLevel || ServiceLevel.STANDARD,
        items: order.items.map((i) => ({
          productId: i.productId,
          variantId: i.variantId,
          quantity: i.quantity,
        })),
        weightGrams: BigInt(totalWeightGrams(order.items)),
      });
      if (!shipment) throw new Error("CreateShipment answered without a shipment");
      const summary = shipmentSummary(shipment);
      const at = new Date();
      return (o) => saga.markShipped(o, { shipment: summary, at });
    }
    case "release_stock":
      try {
        await c.inventory.releaseReservation({ orderId: order.id, reason: releaseReason(order) });
      } catch (err) {
        // FULFILLED: the goods already left; there is nothing to give back.
        if (!isCode(err, Code.FAILED_PRECONDITION)) throw err;
      }
      return saga.markStockReleased;
    case "cancel_shipment":
      try {
        await c.shipping.cancelShipment({
          orderId: order.id,
          reason: `order cancelled (${order.cancellation?.reason ?? "unknown"})`,
        });
      } catch (err) {
        // Picked up already: the parcel is on its way and can only come back as a return.
        if (!isCode(err, Code.FAILED_PRECONDITION)) throw err;
      }
      return saga.markShipmentCancelled;
    case "refund": {
      const paymentId = order.payment?.paymentId;
      if (!paymentId) throw new Error(`order ${order.id} owes a refund but has no payment id`);
      try {
        const { payment } = await c.payment.refund({
          paymentId,
          reason: RefundReason.ORDER_CANCELLED,
          note: `order ${order.id} cancelled`,
          idempotencyKey: refundKey(order.id),
        });
        const refunded = Number(payment?.refundedAmount?.amountMinor ?? 0n);
        if (
          refunded < order.totals.total.amountMinor &&
          payment?.status !== PaymentStatus.REFUNDED
        ) {
          throw new Error(`refund of order ${order.id} not confirmed yet (${refunded} refunded)`);
        }
        const total =
          payment?.status === PaymentStatus.REFUNDED ? order.payment!.amount.amountMinor : refunded;
        const at = new Date();
        return (o) => saga.markRefunded(o, { refundedTotalMinor: total, at });
      } catch (err) {
        if (!isCode(err, Code.FAILED_PRECONDITION)) throw err;
        // Nothing left to refund: find out whether that is because it is all back already.
        const { payment } = await c.payment.getPayment({ paymentId });
        if (payment?.status !== PaymentStatus.REFUNDED) throw err;
        const refunded = Number(payment.refundedAmount?.amountMinor ?? 0n);
        const at = new Date();
        return (o) => saga.markRefunded(o, { refundedTotalMinor: refunded, at });
      }
    }
    case "check_late_charge":
      try {
        const { payment } = await c.payment.getPaymentByOrder({ orderId: order.id });
        if (!payment) return saga.markLateChargeChecked;
        if (payment.status === PaymentStatus.PENDING && input.attempts >= 20)
          return saga.markLateChargeChecked;
        const change = fromPayment(payment, order, new Date());
        return (o) => {
          const applied = change(o);
          return { order: saga.markLateChargeChecked(applied.order).order, events: applied.events };
        };
      } catch (err) {
        // NOT_FOUND: payment never saw the charge. UNAUTHENTICATED / PERMISSION_DENIED: this
        // payment service admits only the order's owner or an admin to GetPaymentByOrder (it has
        // an HTTP binding), so the saga cannot ask; a charge that lands later is still refunded,
        // through payment.successful (payment's outbox and its reconciler guarantee the event).
        if (
          isCode(err, Code.NOT_FOUND) ||
          isCode(err, Code.UNAUTHENTICATED) ||
          isCode(err, Code.PERMISSION_DENIED)
        ) {
          return saga.markLateChargeChecked;
        }
        throw err;
      }
  }
}
