import type { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import type { DeclineCode } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";

/** Raw card data, as TokenizeCard receives it; it never leaves the gateway. */
export interface RawCard {
  number: string;
  expMonth: number;
  expYear: number;
  cvc: string;
  holderName: string;
}

/** What a merchant may know about a card (PCI DSS): network, last four digits, expiry. */
export interface CardFacts {
  brand: CardBrand;
  last4: string;
  expMonth: number;
  expYear: number;
}

/** An amount in a currency's minor unit. */
export interface Amount {
  currencyCode: string;
  minor: bigint;
}

/**
 * The gateway's answer to a charge or refund. A decline is an answer, not an error; an error
 * (thrown) means the outcome is unknown and the same call must be repeated with the same key.
 */
export type GatewayOutcome =
  | { status: "succeeded"; reference: string; at: Date }
  | { status: "declined"; reference: string; code: DeclineCode; message: string; at: Date };

/**
 * The gateway's answer to a charge: its outcome and the card charged (undefined when the
 * gateway does not know the token), as a real gateway's charge carries the card details
 * (Stripe's `payment_method_details.card`), so charging needs no separate describe call.
 */
export type ChargeOutcome = GatewayOutcome & { card: CardFacts | undefined };

/** One charge request to the gateway. */
export interface GatewayCharge {
  /**
   * The gateway deduplicates on it, like Stripe's Idempotency-Key: repeating a call with the
   * same key returns the first call's outcome and never moves money twice.
   */
  idempotencyKey: string;
  token: string;
  amount: Amount;
  description: string;
  /** Stops waiting for the answer (the charge may still go through). */
  signal?: AbortSignal;
}

/** One refund request to the gateway. */
export interface GatewayRefund {
  /** Deduplicated like {@link GatewayCharge.idempotencyKey}. */
  idempotencyKey: string;
  /** The charge's gateway reference. */
  chargeReference: string;
  amount: Amount;
  signal?: AbortSignal;
}

/**
 * A card payment gateway as the payment service uses it. The simulated gateway implements it;
 * a real one (Stripe, Adyen) would implement the same four calls over its HTTP API.
 */
export interface CardGateway {
  /**
   * Turns raw card data into a reusable token. INVALID_ARGUMENT for a number failing the Luhn
   * check, FAILED_PRECONDITION for a past expiry.
   */
  tokenize(card: RawCard): Promise<{ token: string; card: CardFacts }>;
  /** The card behind a token, or undefined when the gateway does not know the token. */
  describe(token: string): Promise<CardFacts | undefined>;
  /** Charges a token; idempotent per key. Throws when the answer did not arrive. */
  charge(request: GatewayCharge): Promise<ChargeOutcome>;
  /** Refunds part or all of a charge; idempotent per key. Throws when the answer did not arrive. */
  refund(request: GatewayRefund): Promise<GatewayOutcome>;
}
