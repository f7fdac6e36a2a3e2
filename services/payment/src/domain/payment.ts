import { createHash } from "node:crypto";
import type { DeclineCode, RefundReason } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { FailedPreconditionError, InvalidArgumentError } from "@shopmesh/platform/errors";
import type { Amount, CardFacts, ChargeOutcome, GatewayOutcome } from "../gateway/gateway.ts";

/** Where a charge stands; the names match PaymentStatus without its prefix. */
export type PaymentState = "PENDING" | "SUCCEEDED" | "FAILED" | "REFUNDED" | "PARTIALLY_REFUNDED";

/** Where a refund stands; the names match RefundStatus without its prefix. */
export type RefundState = "PENDING" | "SUCCEEDED" | "FAILED";

/** Why the gateway refused a charge or refund. */
export interface Failure {
  code: DeclineCode;
  message: string;
}

/** One charge attempt for an order. */
export interface Payment {
  id: string;
  orderId: string;
  userId: string;
  amount: Amount;
  status: PaymentState;
  /** Undefined when the token was unknown to the gateway. */
  card: CardFacts | undefined;
  token: string;
  description: string;
  gatewayReference: string;
  failure: Failure | undefined;
  /** Sum of succeeded refunds. */
  refundedMinor: bigint;
  idempotencyKey: string;
  /** Fingerprint of the request body, to tell a retry from a different call reusing the key. */
  requestHash: string;
  createdAt: Date;
  updatedAt: Date;
}

/** One refund of a payment. */
export interface Refund {
  id: string;
  paymentId: string;
  amount: Amount;
  reason: RefundReason;
  note: string;
  status: RefundState;
  gatewayReference: string;
  failure: Failure | undefined;
  idempotencyKey: string;
  requestHash: string;
  createdAt: Date;
  updatedAt: Date;
}

/** The statuses of a charge that took money (before any refund). */
export const CHARGED_STATES: readonly PaymentState[] = [
  "SUCCEEDED",
  "PARTIALLY_REFUNDED",
  "REFUNDED",
];

/**
 * Whether a payment can have refunds: only a charge that took money can ({@link planRefund}
 * refuses the rest), so reads skip the refunds query for pending and failed charges.
 */
export function mayHaveRefunds(payment: Payment): boolean {
  return CHARGED_STATES.includes(payment.status);
}

/**
 * A stable fingerprint of a request's meaningful fields, so a retry with the same idempotency
 * key is recognised and a different request reusing the key is refused.
 */
export function fingerprint(fields: Readonly<Record<string, string | bigint | number>>): string {
  const canonical = Object.keys(fields)
    .sort()
    .map((k) => `${k}=${String(fields[k])}`)
    .join("\n");
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * The outcome of a charge applied to its pending payment, with the card the gateway charged
 * (a pending payment does not know it yet).
 */
export function settleCharge(payment: Payment, outcome: ChargeOutcome): Payment {
  if (payment.status !== "PENDING") {
    throw new FailedPreconditionError(`payment ${payment.id} is already ${payment.status}`);
  }
  const card = outcome.card ?? payment.card;
  return outcome.status === "succeeded"
    ? {
        ...payment,
        status: "SUCCEEDED",
        card,
        gatewayReference: outcome.reference,
        updatedAt: outcome.at,
      }
    : {
        ...payment,
        status: "FAILED",
        card,
        gatewayReference: outcome.reference,
        failure: { code: outcome.code, message: outcome.message },
        updatedAt: outcome.at,
      };
}

/** Money of a payment not yet returned nor promised to a refund in flight. */
export function refundableMinor(payment: Payment, refunds: readonly Refund[]): bigint {
  const committed = refunds
    .filter((r) => r.status !== "FAILED")
    .reduce((sum, r) => sum + r.amount.minor, 0n);
  return payment.amount.minor - committed;
}

/**
 * Decides how much a new refund returns: the amount asked for, or everything still refundable
 * when none was given. Refuses refunds of payments that took no money, in another currency,
 * or for more than what remains (counting refunds still in flight).
 */
export function planRefund(
  payment: Payment,
  refunds: readonly Refund[],
  requested: Amount | undefined,
): bigint {
  if (!CHARGED_STATES.includes(payment.status) || payment.status === "REFUNDED") {
    throw new FailedPreconditionError(
      `payment ${payment.id} is ${payment.status}; only a succeeded, not fully refunded payment can be refunded`,
    );
  }
  if (requested && requested.currencyCode !== payment.amount.currencyCode) {
    throw new InvalidArgumentError(
      "amount.currency_code",
      `must be the payment's currency ${payment.amount.currencyCode}, got ${requested.currencyCode}`,
    );
  }
  const remaining = refundableMinor(payment, refunds);
  if (remaining <= 0n) {
    throw new FailedPreconditionError(`payment ${payment.id} has nothing left to refund`);
  }
  const amount = requested?.minor ?? remaining;
  if (amount > remaining) {
    throw new FailedPreconditionError(
      `refund of ${amount} exceeds the ${remaining} still refundable on payment ${payment.id} (charged ${payment.amount.minor} ${payment.amount.currencyCode})`,
    );
  }
  return amount;
}

/** The outcome of a refund applied to it and to its payment. */
export function settleRefund(
  payment: Payment,
  refund: Refund,
  outcome: GatewayOutcome,
): { payment: Payment; refund: Refund } {
  if (refund.status !== "PENDING") {
    throw new FailedPreconditionError(`refund ${refund.id} is already ${refund.status}`);
  }
  if (outcome.status === "declined") {
    return {
      payment,
      refund: {
        ...refund,
        status: "FAILED",
        gatewayReference: outcome.reference,
        failure: { code: outcome.code, message: outcome.message },
        updatedAt: outcome.at,
      },
    };
  }
  const refundedMinor = payment.refundedMinor + refund.amount.minor;
  return {
    payment: {
      ...payment,
      refundedMinor,
      status: refundedMinor >= payment.amount.minor ? "REFUNDED" : "PARTIALLY_REFUNDED",
      updatedAt: outcome.at,
    },
    refund: {
      ...refund,
      status: "SUCCEEDED",
      gatewayReference: outcome.reference,
      updatedAt: outcome.at,
    },
  };
}
