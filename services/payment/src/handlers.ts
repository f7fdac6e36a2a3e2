import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { CardSummarySchema } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { MoneySchema } from "@shopmesh/gen/shopmesh/common/v1/money_pb.js";
import {
  PaymentFailureSchema,
  type Payment as PaymentMessage,
  PaymentSchema,
  type PaymentService,
  PaymentStatus,
  type Refund as RefundMessage,
  RefundSchema,
  RefundStatus,
} from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { requireSelfOrAdmin, requireUser } from "@shopmesh/platform/auth";
import { NotFoundError } from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { chargeOrder } from "./charge.ts";
import type { PaymentDeps } from "./deps.ts";
import { type Failure, mayHaveRefunds, type Payment, type Refund } from "./domain/payment.ts";
import type { Amount } from "./gateway/gateway.ts";
import { refundPayment } from "./refund.ts";
import { findPayment, findPaymentForOrder, listRefunds } from "./store.ts";

const money = (a: Amount) =>
  create(MoneySchema, { currencyCode: a.currencyCode, amountMinor: a.minor });

const failure = (f: Failure | undefined) => (f ? create(PaymentFailureSchema, f) : undefined);

function toRefundMessage(r: Refund): RefundMessage {
  return create(RefundSchema, {
    id: r.id,
    amount: money(r.amount),
    reason: r.reason,
    note: r.note,
    status: RefundStatus[r.status],
    gatewayReference: r.gatewayReference,
    failure: failure(r.failure),
    idempotencyKey: r.idempotencyKey,
    createdAt: timestampFromDate(r.createdAt),
  });
}

function toPaymentMessage(p: Payment, refunds: readonly Refund[]): PaymentMessage {
  return create(PaymentSchema, {
    id: p.id,
    orderId: p.orderId,
    userId: p.userId,
    amount: money(p.amount),
    status: PaymentStatus[p.status],
    method: p.card ? create(CardSummarySchema, p.card) : undefined,
    gatewayReference: p.gatewayReference,
    failure: failure(p.failure),
    refunds: refunds.map(toRefundMessage),
    refundedAmount: money({ currencyCode: p.amount.currencyCode, minor: p.refundedMinor }),
    idempotencyKey: p.idempotencyKey,
    createdAt: timestampFromDate(p.createdAt),
    updatedAt: timestampFromDate(p.updatedAt),
  });
}

/**
 * The PaymentService implementation: proto <-> use cases, plus authorization. Charge, Refund
 * and DescribeCardToken are internal (no HTTP binding; the mesh admits only their callers);
 * TokenizeCard needs a signed-in user; reads need the payment's owner or an admin.
 */
export function createPaymentHandlers(deps: PaymentDeps): ServiceImpl<typeof PaymentService> {
  const withRefunds = async (p: Payment) =>
    toPaymentMessage(p, mayHaveRefunds(p) ? await listRefunds(deps.db, p) : []);

  return {
    async tokenizeCard(req, ctx) {
      requireUser(ctx);
      const { token, card } = await deps.gateway.tokenize({
        number: req.cardNumber,
        expMonth: req.expMonth,
        expYear: req.expYear,
        cvc: req.cvc,
        holderName: req.cardholderName,
      });
      return { token, card };
    },

    async describeCardToken(req) {
      const card = await deps.gateway.describe(req.token);
      if (!card) throw new NotFoundError(`card token ${req.token} not found`);
      return { card };
    },

    async charge(req, ctx) {
      const { payment, refunds } = await chargeOrder(deps, {
        orderId: req.orderId,
        userId: req.userId,
        amount: { currencyCode: req.amount!.currencyCode, minor: req.amount!.amountMinor },
        token: req.paymentMethodToken,
        idempotencyKey: req.idempotencyKey,
        description: req.description,
        signal: ctx.signal,
      });
      return { payment: toPaymentMessage(payment, refunds) };
    },

    async refund(req, ctx) {
      const result = await refundPayment(deps, {
        paymentId: req.paymentId,
        amount: req.amount
          ? { currencyCode: req.amount.currencyCode, minor: req.amount.amountMinor }
          : undefined,
        reason: req.reason,
        note: req.note,
        idempotencyKey: req.idempotencyKey,
        signal: ctx.signal,
      });
      return {
        payment: toPaymentMessage(result.payment, result.refunds),
        refund: toRefundMessage(result.refund),
      };
    },

    async getPayment(req, ctx) {
      requireUser(ctx);
      const payment = await findPayment(deps.db, req.paymentId);
      if (!payment) throw new NotFoundError(`payment ${req.paymentId} not found`);
      requireSelfOrAdmin(ctx, payment.userId);
      return { payment: await withRefunds(payment) };
    },

    async getPaymentByOrder(req, ctx) {
      requireUser(ctx);
      const payment = await findPaymentForOrder(deps.db, req.orderId);
      if (!payment) throw new NotFoundError(`order ${req.orderId} has no payment`);
      requireSelfOrAdmin(ctx, payment.userId);
      return { payment: await withRefunds(payment) };
    },
  };
}
