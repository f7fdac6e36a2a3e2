import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CardSummarySchema } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { MoneySchema } from "@shopmesh/gen/shopmesh/common/v1/money_pb.js";
import {
  PaymentFailedSchema,
  PaymentRefundedSchema,
  PaymentSuccessfulSchema,
} from "@shopmesh/gen/shopmesh/events/v1/payment_events_pb.js";
import {
  PaymentFailureSchema,
  PaymentStatus,
} from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import type { NewEvent } from "@shopmesh/platform/event-envelope";
import { appendToOutbox } from "@shopmesh/platform/outbox";
import type { Transaction } from "kysely";
import type { Payment, Refund } from "./domain/payment.ts";
import type { Amount } from "./gateway/gateway.ts";
import type { PaymentDatabase } from "./store.ts";

/** The topic every payment event goes to, keyed by payment id. */
export const PAYMENTS_TOPIC = "payments";

const money = (a: Amount) =>
  create(MoneySchema, { currencyCode: a.currencyCode, amountMinor: a.minor });

const card = (p: Payment) => (p.card ? create(CardSummarySchema, p.card) : undefined);

function base(payment: Payment) {
  return {
    topic: PAYMENTS_TOPIC,
    aggregateType: "payment",
    aggregateId: payment.id,
    producer: "payment",
    occurredAt: payment.updatedAt,
  };
}

/** payment.successful or payment.failed for a charge that just settled. */
export function chargeSettledEvent(payment: Payment): NewEvent {
  if (payment.status === "SUCCEEDED") {
    return {
      ...base(payment),
      eventType: "payment.successful",
      payloadSchema: PaymentSuccessfulSchema,
      payload: create(PaymentSuccessfulSchema, {
        paymentId: payment.id,
        orderId: payment.orderId,
        userId: payment.userId,
        amount: money(payment.amount),
        card: card(payment),
        gatewayReference: payment.gatewayReference,
        succeededAt: timestampFromDate(payment.updatedAt),
      }),
    };
  }
  return {
    ...base(payment),
    eventType: "payment.failed",
    payloadSchema: PaymentFailedSchema,
    payload: create(PaymentFailedSchema, {
      paymentId: payment.id,
      orderId: payment.orderId,
      userId: payment.userId,
      amount: money(payment.amount),
      card: card(payment),
      failure: create(PaymentFailureSchema, payment.failure ?? {}),
      failedAt: timestampFromDate(payment.updatedAt),
    }),
  };
}

/** payment.refunded for a refund that just succeeded. */
export function refundedEvent(payment: Payment, refund: Refund): NewEvent {
  return {
    ...base(payment),
    eventType: "payment.refunded",
    payloadSchema: PaymentRefundedSchema,
    payload: create(PaymentRefundedSchema, {
      paymentId: payment.id,
      refundId: refund.id,
      orderId: payment.orderId,
      userId: payment.userId,
      amount: money(refund.amount),
      refundedTotal: money({
        currencyCode: payment.amount.currencyCode,
        minor: payment.refundedMinor,
      }),
      paymentStatus:
        payment.status === "REFUNDED" ? PaymentStatus.REFUNDED : PaymentStatus.PARTIALLY_REFUNDED,
      reason: refund.reason,
      refundedAt: timestampFromDate(refund.updatedAt),
    }),
  };
}

/** Appends events in the transaction that made the change they describe. */
export async function publish(
  trx: Transaction<PaymentDatabase>,
  events: readonly NewEvent[],
): Promise<void> {
  await appendToOutbox(trx, events);
}
