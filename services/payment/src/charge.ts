import {
  AlreadyExistsError,
  ConflictError,
  FailedPreconditionError,
} from "@shopmesh/platform/errors";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import type { PaymentDeps } from "./deps.ts";
import { fingerprint, type Payment, settleCharge } from "./domain/payment.ts";
import { chargeSettledEvent, publish } from "./events.ts";
import type { Amount } from "./gateway/gateway.ts";
import {
  findActivePaymentForOrder,
  findPayment,
  findPaymentByKey,
  insertPaymentIfFree,
  updatePayment,
} from "./store.ts";

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

/**
 * Charges an order, at most once per idempotency key and at most once successfully per order.
 *
 * The payment is stored PENDING before the gateway is called, with the gateway call keyed by
 * the payment id: if the answer never arrives (timeout, crash), a retry with the same key
 * repeats the gateway call, which replays the gateway's first outcome instead of charging
 * again. The database's partial unique index keeps a second charge for the order out while
 * one is pending or has taken money.
 */
export async function chargeOrder(deps: PaymentDeps, input: ChargeInput): Promise<Payment> {
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
    const existing = await findPaymentByKey(deps.db, input.idempotencyKey);
    if (existing) {
      if (existing.requestHash !== requestHash) {
        throw new AlreadyExistsError(
          `idempotency_key ${input.idempotencyKey} was already used for a different charge (payment ${existing.id}, order ${existing.orderId}, ${existing.amount.minor} ${existing.amount.currencyCode}); use a new key for a new charge`,
        );
      }
      return existing.status === "PENDING"
        ? resolvePending(deps, existing, input.signal)
        : existing;
    }
    const active = await findActivePaymentForOrder(deps.db, input.orderId);
    if (active) {
      throw new FailedPreconditionError(
        active.status === "PENDING"
          ? `order ${input.orderId} has a charge in progress (payment ${active.id}); retry with its idempotency key to learn its outcome`
          : `order ${input.orderId} is already paid by payment ${active.id} (${active.status})`,
      );
    }
    const card = await deps.gateway.describe(input.token);
    const now = new Date();
    const payment: Payment = {
      id: uuidv7(),
      orderId: input.orderId,
      userId: input.userId,
      amount: input.amount,
      status: "PENDING",
      card,
      token: input.token,
      description: input.description,
      gatewayReference: "",
      failure: undefined,
      refundedMinor: 0n,
      idempotencyKey: input.idempotencyKey,
      requestHash,
      createdAt: now,
      updatedAt: now,
    };
    if (await insertPaymentIfFree(deps.db, payment)) {
      return resolvePending(deps, payment, input.signal);
    }
    // The key or the order was taken by a concurrent call: look again.
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
): Promise<Payment> {
  const outcome = await deps.gateway.charge({
    idempotencyKey: payment.id,
    token: payment.token,
    amount: payment.amount,
    description: payment.description,
    ...(signal ? { signal } : {}),
  });
  return deps.db.transaction().execute(async (trx) => {
    const current = await findPayment(trx, payment.id, true);
    if (current?.status !== "PENDING") return current ?? payment;
    const settled = settleCharge(current, outcome);
    await updatePayment(trx, settled);
    await publish(trx, [chargeSettledEvent(settled)]);
    deps.logger.info(
      { paymentId: settled.id, orderId: settled.orderId, status: settled.status },
      "charge settled",
    );
    return settled;
  });
}
