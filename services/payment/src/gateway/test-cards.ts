import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { DeclineCode } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";

/**
 * How the simulated gateway treats charges on a card, decided once at tokenization from the
 * card number (the number itself is then forgotten; only this behaviour stays with the token).
 */
export type CardBehaviour =
  | { kind: "succeed" }
  /** Every charge is declined with `code`. */
  | { kind: "decline"; code: DeclineCode }
  /** Charges succeed, refunds fail with PROCESSING_ERROR. */
  | { kind: "refund_fails" }
  /**
   * The charge goes through at the gateway, but the answer takes far longer than any caller
   * waits: the caller sees a timeout and must retry with the same idempotency key to learn the
   * outcome.
   */
  | { kind: "hang" }
  /** The charge succeeds after a noticeable delay (1.5 s by default). */
  | { kind: "slow" };

/**
 * Stripe's published test numbers plus two of shopmesh's own for timeouts, mapped to what a
 * charge on them does. Any other Luhn-valid number succeeds.
 */
export const TEST_CARDS: Readonly<Record<string, CardBehaviour>> = {
  "4242424242424242": { kind: "succeed" },
  "5555555555554444": { kind: "succeed" },
  "4000000000000002": { kind: "decline", code: DeclineCode.CARD_DECLINED },
  "4000000000009995": { kind: "decline", code: DeclineCode.INSUFFICIENT_FUNDS },
  "4000000000000069": { kind: "decline", code: DeclineCode.EXPIRED_CARD },
  "4000000000000127": { kind: "decline", code: DeclineCode.INCORRECT_CVC },
  "4000000000009987": { kind: "decline", code: DeclineCode.LOST_OR_STOLEN },
  "4100000000000019": { kind: "decline", code: DeclineCode.FRAUD_SUSPECTED },
  "4000000000000119": { kind: "decline", code: DeclineCode.PROCESSING_ERROR },
  "4000000000005126": { kind: "refund_fails" },
  // shopmesh additions (not Stripe numbers): a charge that times out but goes through, and a
  // slow success.
  "4000000000007700": { kind: "hang" },
  "4000000000007718": { kind: "slow" },
};

/** What a charge on `cardNumber` does at the simulated gateway. */
export function behaviourOf(cardNumber: string): CardBehaviour {
  return TEST_CARDS[cardNumber] ?? { kind: "succeed" };
}

/** True when `digits` passes the Luhn (mod 10) check every card number carries. */
export function passesLuhn(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** The card network of a number, from its issuer identification prefix. */
export function brandOf(cardNumber: string): CardBrand {
  const prefix = (n: number) => Number(cardNumber.slice(0, n));
  if (cardNumber.startsWith("4")) return CardBrand.VISA;
  if ((prefix(2) >= 51 && prefix(2) <= 55) || (prefix(4) >= 2221 && prefix(4) <= 2720)) {
    return CardBrand.MASTERCARD;
  }
  if (prefix(2) === 34 || prefix(2) === 37) return CardBrand.AMEX;
  if (prefix(4) === 6011 || prefix(2) === 65 || (prefix(3) >= 644 && prefix(3) <= 649)) {
    return CardBrand.DISCOVER;
  }
  if (prefix(4) >= 3528 && prefix(4) <= 3589) return CardBrand.JCB;
  if (prefix(2) === 36 || prefix(2) === 38 || (prefix(3) >= 300 && prefix(3) <= 305)) {
    return CardBrand.DINERS;
  }
  if (prefix(2) === 62) return CardBrand.UNIONPAY;
  return CardBrand.OTHER;
}

/** True when a card expiring at the end of `month`/`year` is already expired at `now` (UTC). */
export function isExpired(month: number, year: number, now: Date): boolean {
  const nowYear = now.getUTCFullYear();
  const nowMonth = now.getUTCMonth() + 1;
  return year < nowYear || (year === nowYear && month < nowMonth);
}
