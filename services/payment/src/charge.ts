import {
  AlreadyExistsError,
  ConflictError,
  FailedPreconditionError,
} from "@shopmesh/platform/errors";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import type { PaymentDeps } from "./deps.ts";
import {
  fingerprint,
  mayHaveRefunds,
  type Payment,
  type Refund,
  settleCharge,
} from "./domain/payment.ts";
import { chargeSettledEvent } from "./events.ts";
import type { Amount } from "./gateway/gateway.ts";
import { claimCharge, findPayment, listRefunds, saveSettledCharge } from "./store.ts";

/** A validated Charge request. */
export interface ChargeInput {
  orderId: string;
  userId: string;
  amount: Amount;
  token: string;
  idempotencyKey: string;
  description: string;
  /** Stops waiting for the gateway when the caller gives up (the payment then stays PENDING). */
  signal?: AbortSignal;
}

/** A charge's result: the payment and its refunds. */
export interface ChargeResult {
  payment: Payment;
  refunds: Refund[];
}

/**
 * Charges an order, at most once per idempotency key and at most once successfully per order.
 *
 * The payment is stored PENDING before the gateway is called, with the gateway call keyed by
 * the payment id: if the answer never arrives (timeout, crash), a retry with the same key
 * repeats the gateway call, which replays the gateway's first outcome instead of charging
 * again. The database's partial unique index keeps a second charge for the order out while
 * one is pending or has taken money. The card's brand and last four come with the gateway's
 * answer, so a new charge is three round trips: claim, the gateway's record, settle (four when
 * the gateway process has not seen the card yet: it reads it once).
 */
export async function chargeOrder(deps: PaymentDeps, input: ChargeInput): Promise<ChargeResult> {
  const requestHash = fingerprint({
    order: input.orderId,
    user: input.userId,
    currency: input.amount.currencyCode,
    amount: input.amount.minor,
    token: input.token,
    description: input.description,
  });
  // Two rounds suffice unless a concurrent attempt on the same order keeps failing in between.
  for (let round = 0; round < 3; round++) {
    const now = new Date();
    const claim = await claimCharge(deps.db, {
      id: uuidv7(),
      orderId: input.orderId,
      userId: input.userId,
      amount: input.amount,
      status: "PENDING",
      card: undefined,
      token: input.token,
      description: input.description,
      gatewayReference: "",
      failure: undefined,
      refundedMinor: 0n,
      idempotencyKey: input.idempotencyKey,
      requestHash,
      createdAt: now,
      updatedAt: now,
    });
    const { sameKey, inserted, activeForOrder } = claim;
    if (sameKey) {
      if (sameKey.requestHash !== requestHash) {
        throw new AlreadyExistsError(
          `idempotency_key ${input.idempotencyKey} was already used for a different charge (payment ${sameKey.id}, order ${sameKey.orderId}, ${sameKey.amount.minor} ${sameKey.amount.currencyCode}); use a new key for a new charge`,
        );
      }
      return sameKey.status === "PENDING"
        ? resolvePending(deps, sameKey, input.signal)
        : withRefunds(deps, sameKey);
    }
    // Inserted even if the statement saw an active charge: that one failed in between.
    if (inserted) return resolvePending(deps, inserted, input.signal);
    if (activeForOrder) {
      throw new FailedPreconditionError(
        activeForOrder.status === "PENDING"
          ? `order ${input.orderId} has a charge in progress (payment ${activeForOrder.id}); retry with its idempotency key to learn its outcome`
          : `order ${input.orderId} is already paid by payment ${activeForOrder.id} (${activeForOrder.status})`,
      );
    }
    // The key or the order was taken by a concurrent call after our snapshot: look again.
  }
  throw new ConflictError(`concurrent charges for order ${input.orderId} kept colliding; retry`);
}

/**
 * Asks the gateway for the outcome of a pending payment (charging it the first time, replaying
 * the outcome afterwards) and records it with its event, unless a concurrent call did already.
 */
export async function resolvePending(
  deps: PaymentDeps,
  payment: Payment,
  signal?: AbortSignal,
): Promise<ChargeResult> {
  const outcome = await deps.gateway.charge({
    idempotencyKey: payment.id,
    token: payment.token,
    amount: payment.amount,
    description: payment.description,
    ...(signal ? { signal } : {}),
  });
  const settled = settleCharge(payment, outcome);
  // Guarded on PENDING: the row and its event are written only by the call that settles it.
  const saved = await saveSettledCharge(deps.db, settled, [chargeSettledEvent(settled)]);
  if (!saved) {
    const current = await findPayment(deps.db, payment.id);
    return withRefunds(deps, current ?? payment);
  }
  deps.logger.info(
    { paymentId: saved.id, orderId: saved.orderId, status: saved.status },
    "charge settled",
  );
  // Nothing can refund a charge before it settles, so one settled just now has no refunds.
  return { payment: saved, refunds: [] };
}

/** A payment with its refunds. */
async function withRefunds(deps: PaymentDeps, payment: Payment): Promise<ChargeResult> {
  return { payment, refunds: mayHaveRefunds(payment) ? await listRefunds(deps.db, payment) : [] };
}
