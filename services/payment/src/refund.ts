import type { RefundReason } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { AlreadyExistsError, NotFoundError } from "@shopmesh/platform/errors";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import type { PaymentDeps } from "./deps.ts";
import {
  fingerprint,
  type Payment,
  planRefund,
  type Refund,
  settleRefund,
} from "./domain/payment.ts";
import { publish, refundedEvent } from "./events.ts";
import type { Amount } from "./gateway/gateway.ts";
import {
  findPayment,
  findRefundByKey,
  insertRefund,
  listRefunds,
  updatePayment,
  updateRefund,
} from "./store.ts";

/** A validated Refund request. */
export interface RefundInput {
  paymentId: string;
  /** Undefined refunds everything still refundable. */
  amount: Amount | undefined;
  reason: RefundReason;
  note: string;
  idempotencyKey: string;
  signal?: AbortSignal;
}

/** A refund's result: the payment after it, all its refunds, and this one. */
export interface RefundResult {
  payment: Payment;
  refunds: Refund[];
  refund: Refund;
}

/**
 * Refunds all or part of a payment, once per idempotency key. The amount is checked and the
 * refund stored PENDING under the payment's row lock, so concurrent refunds can never return
 * more than was charged; the gateway call is keyed by the refund id, so a retry after a lost
 * answer replays the gateway's outcome.
 */
export async function refundPayment(deps: PaymentDeps, input: RefundInput): Promise<RefundResult> {
  const requestHash = fingerprint({
    payment: input.paymentId,
    amount: input.amount ? `${input.amount.minor} ${input.amount.currencyCode}` : "all",
    reason: input.reason,
    note: input.note,
  });
  const checkSame = (refund: Refund) => {
    if (refund.requestHash !== requestHash) {
      throw new AlreadyExistsError(
        `idempotency_key ${input.idempotencyKey} was already used for a different refund (refund ${refund.id} of payment ${refund.paymentId}); use a new key for a new refund`,
      );
    }
    return refund;
  };

  let refund = await findRefundByKey(deps.db, input.idempotencyKey);
  if (!refund) {
    refund = await deps.db.transaction().execute(async (trx) => {
      const payment = await findPayment(trx, input.paymentId, true);
      if (!payment) throw new NotFoundError(`payment ${input.paymentId} not found`);
      // A concurrent call with the same key may have committed while we waited for the lock.
      const raced = await findRefundByKey(trx, input.idempotencyKey);
      if (raced) return raced;
      const minor = planRefund(payment, await listRefunds(trx, payment), input.amount);
      const now = new Date();
      const created: Refund = {
        id: uuidv7(),
        paymentId: payment.id,
        amount: { currencyCode: payment.amount.currencyCode, minor },
        reason: input.reason,
        note: input.note,
        status: "PENDING",
        gatewayReference: "",
        failure: undefined,
        idempotencyKey: input.idempotencyKey,
        requestHash,
        createdAt: now,
        updatedAt: now,
      };
      await insertRefund(trx, created);
      return created;
    });
  }
  checkSame(refund);
  if (refund.status === "PENDING") await resolvePendingRefund(deps, refund, input.signal);
  const payment = (await findPayment(deps.db, refund.paymentId))!;
  const refunds = await listRefunds(deps.db, payment);
  return { payment, refunds, refund: refunds.find((r) => r.id === refund.id) ?? refund };
}

/** Gets a pending refund's outcome from the gateway and records it with its event. */
async function resolvePendingRefund(
  deps: PaymentDeps,
  refund: Refund,
  signal: AbortSignal | undefined,
): Promise<void> {
  const charged = await findPayment(deps.db, refund.paymentId);
  const outcome = await deps.gateway.refund({
    idempotencyKey: refund.id,
    chargeReference: charged?.gatewayReference ?? "",
    amount: refund.amount,
    ...(signal ? { signal } : {}),
  });
  await deps.db.transaction().execute(async (trx) => {
    const payment = (await findPayment(trx, refund.paymentId, true))!;
    const current = await findRefundByKey(trx, refund.idempotencyKey);
    if (current?.status !== "PENDING") return;
    const settled = settleRefund(payment, current, outcome);
    await updateRefund(trx, settled.refund);
    if (settled.refund.status === "SUCCEEDED") {
      await updatePayment(trx, settled.payment);
      await publish(trx, [refundedEvent(settled.payment, settled.refund)]);
    }
    deps.logger.info(
      { paymentId: payment.id, refundId: current.id, status: settled.refund.status },
      "refund settled",
    );
  });
}
