import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { DeclineCode } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import {
  FailedPreconditionError,
  InvalidArgumentError,
  UnavailableError,
} from "@shopmesh/platform/errors";
import { type Insertable, type Kysely, sql } from "kysely";
import type {
  CardFacts,
  CardGateway,
  ChargeOutcome,
  GatewayCharge,
  GatewayOutcome,
  GatewayRefund,
  RawCard,
} from "./gateway.ts";
import type {
  GatewayCardsTable,
  GatewayOperationRow,
  GatewayOperationsTable,
  GatewayTables,
} from "./simulated-gateway-tables.ts";
import { behaviourOf, brandOf, type CardBehaviour, isExpired, passesLuhn } from "./test-cards.ts";

/** Knobs of the simulated gateway. */
export interface SimulatedGatewayOptions {
  /** How long a "hang" card's answer takes; far longer than any caller's deadline. */
  hangMs: number;
  /** How long a "slow" card's successful answer takes. */
  slowMs: number;
  /** Percentage (0-100) of charges that fail at random with PROCESSING_ERROR, for soak tests. */
  failurePercent: number;
  /** Injected for tests; `Math.random` by default. */
  random?: () => number;
  now?: () => Date;
}

const DECLINE_MESSAGES: Readonly<Record<number, string>> = {
  [DeclineCode.CARD_DECLINED]: "Your card was declined.",
  [DeclineCode.INSUFFICIENT_FUNDS]: "Your card has insufficient funds.",
  [DeclineCode.EXPIRED_CARD]: "Your card has expired.",
  [DeclineCode.INCORRECT_CVC]: "Your card's security code is incorrect.",
  [DeclineCode.LOST_OR_STOLEN]: "Your card was declined.",
  [DeclineCode.FRAUD_SUSPECTED]: "Your card was declined.",
  [DeclineCode.INVALID_TOKEN]: "The saved card is no longer valid; add it again.",
  [DeclineCode.PROCESSING_ERROR]: "An error occurred while processing your card; try again.",
};

function opaqueId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString("hex")}`;
}

/**
 * A card gateway that behaves like a real one without moving money: it keeps its own records
 * (cards by token, charges and refunds by idempotency key) in tables of its own, so tokens
 * survive restarts and every replica agrees. Card numbers are never stored: tokenization keeps
 * brand, last four, expiry and the test-card behaviour, and forgets the number.
 *
 * Like Stripe, it deduplicates on the caller's idempotency key: the outcome of a charge is
 * decided and recorded before the (possibly slow) answer is sent, so a caller that timed out
 * learns the real outcome by repeating the call with the same key.
 */
export function createSimulatedGateway(
  db: Kysely<GatewayTables>,
  options: SimulatedGatewayOptions,
): CardGateway {
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());

  /** The recorded outcome of an operation, or undefined. */
  async function recorded(key: string): Promise<GatewayOutcome | undefined> {
    const row = await db
      .selectFrom("gateway_operations")
      .selectAll()
      .where("idempotency_key", "=", key)
      .executeTakeFirst();
    return row ? toOutcome(row) : undefined;
  }

  /** Records an outcome unless a concurrent call with the same key got there first. */
  async function record(row: Insertable<GatewayOperationsTable>): Promise<GatewayOutcome> {
    const inserted = await db
      .insertInto("gateway_operations")
      .values(row)
      .onConflict((oc) => oc.column("idempotency_key").doNothing())
      .returningAll()
      .executeTakeFirst();
    return inserted ? toOutcome(inserted) : (await recorded(row.idempotency_key))!;
  }

  async function answerAfter(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await sleep(ms, undefined, signal ? { signal } : {});
    } catch {
      throw new UnavailableError(
        "the payment gateway did not answer in time; the outcome is unknown until the call is repeated with the same idempotency key",
      );
    }
  }

  function declined(code: DeclineCode) {
    return { status: "declined", decline_code: code, message: DECLINE_MESSAGES[code] ?? "" };
  }

  return {
    async tokenize(card: RawCard) {
      if (!passesLuhn(card.number)) {
        throw new InvalidArgumentError(
          "card_number",
          "is not a valid card number (Luhn check failed)",
        );
      }
      if (isExpired(card.expMonth, card.expYear, now())) {
        throw new FailedPreconditionError(
          `the card expired at the end of ${String(card.expMonth).padStart(2, "0")}/${card.expYear}`,
        );
      }
      const facts: CardFacts = {
        brand: brandOf(card.number),
        last4: card.number.slice(-4),
        expMonth: card.expMonth,
        expYear: card.expYear,
      };
      const token = opaqueId("tok");
      await db
        .insertInto("gateway_cards")
        .values({
          token,
          brand: CardBrand[facts.brand],
          last4: facts.last4,
          exp_month: facts.expMonth,
          exp_year: facts.expYear,
          behaviour: JSON.stringify(behaviourOf(card.number)),
        })
        .execute();
      return { token, card: facts };
    },

    async describe(token: string) {
      const row = await db
        .selectFrom("gateway_cards")
        .selectAll()
        .where("token", "=", token)
        .executeTakeFirst();
      return row && toCardFacts(row);
    },

    async charge(request: GatewayCharge): Promise<ChargeOutcome> {
      // The recorded outcome (a replay) and the card in one read: two round trips per charge.
      const known = await db
        .selectFrom(sql<{ one: number }>`(SELECT 1)`.as("one"))
        .leftJoin("gateway_operations as op", (j) =>
          j.on("op.idempotency_key", "=", request.idempotencyKey),
        )
        .leftJoin("gateway_cards as card", (j) =>
          j.on("card.token", "=", sql<string>`coalesce(op.token, ${request.token})`),
        )
        .select([
          "op.reference",
          "op.status",
          "op.decline_code",
          "op.message",
          "op.created_at",
          "card.brand",
          "card.last4",
          "card.exp_month",
          "card.exp_year",
          "card.behaviour",
        ])
        .executeTakeFirstOrThrow();
      const card =
        known.brand !== null && known.last4 !== null
          ? toCardFacts({
              brand: known.brand,
              last4: known.last4,
              exp_month: known.exp_month ?? 0,
              exp_year: known.exp_year ?? 0,
            })
          : undefined;
      if (known.reference !== null) {
        return {
          ...toOutcome({
            reference: known.reference,
            status: known.status ?? "",
            decline_code: known.decline_code,
            message: known.message ?? "",
            created_at: known.created_at ?? now(),
          }),
          card,
        };
      }
      const behaviour: CardBehaviour | undefined =
        known.behaviour !== null ? JSON.parse(known.behaviour) : undefined;
      let decision: { status: string; decline_code: number | null; message: string };
      if (!card || !behaviour) decision = declined(DeclineCode.INVALID_TOKEN);
      else if (isExpired(card.expMonth, card.expYear, now())) {
        decision = declined(DeclineCode.EXPIRED_CARD);
      } else if (behaviour.kind === "decline") decision = declined(behaviour.code);
      else if (random() * 100 < options.failurePercent) {
        decision = declined(DeclineCode.PROCESSING_ERROR);
      } else decision = { status: "succeeded", decline_code: null, message: "" };
      const outcome = await record({
        idempotency_key: request.idempotencyKey,
        kind: "charge",
        reference: opaqueId("ch"),
        token: request.token,
        charge_reference: null,
        currency_code: request.amount.currencyCode,
        amount_minor: request.amount.minor.toString(),
        ...decision,
      });
      if (behaviour?.kind === "hang") await answerAfter(options.hangMs, request.signal);
      if (behaviour?.kind === "slow") await answerAfter(options.slowMs, request.signal);
      return { ...outcome, card };
    },

    async refund(request: GatewayRefund) {
      const replay = await recorded(request.idempotencyKey);
      if (replay) return replay;
      const charge = await db
        .selectFrom("gateway_operations as op")
        .leftJoin("gateway_cards as card", "card.token", "op.token")
        .select(["op.amount_minor", "op.status", "card.behaviour"])
        .where("op.reference", "=", request.chargeReference)
        .where("op.kind", "=", "charge")
        .executeTakeFirst();
      const refunded = await db
        .selectFrom("gateway_operations")
        .select((eb) => eb.fn.coalesce(eb.fn.sum<string>("amount_minor"), eb.val("0")).as("sum"))
        .where("charge_reference", "=", request.chargeReference)
        .where("status", "=", "succeeded")
        .executeTakeFirstOrThrow();
      const behaviour: CardBehaviour | undefined = charge?.behaviour
        ? JSON.parse(charge.behaviour)
        : undefined;
      const exceeds =
        charge !== undefined &&
        BigInt(refunded.sum) + request.amount.minor > BigInt(charge.amount_minor);
      const decision =
        charge?.status !== "succeeded" || exceeds || behaviour?.kind === "refund_fails"
          ? declined(DeclineCode.PROCESSING_ERROR)
          : { status: "succeeded", decline_code: null, message: "" };
      return record({
        idempotency_key: request.idempotencyKey,
        kind: "refund",
        reference: opaqueId("re"),
        token: null,
        charge_reference: request.chargeReference,
        currency_code: request.amount.currencyCode,
        amount_minor: request.amount.minor.toString(),
        ...decision,
      });
    },
  };
}

function toCardFacts(
  row: Pick<GatewayCardsTable, "brand" | "last4" | "exp_month" | "exp_year">,
): CardFacts {
  return {
    brand: CardBrand[row.brand as keyof typeof CardBrand] ?? CardBrand.OTHER,
    last4: row.last4,
    expMonth: row.exp_month,
    expYear: row.exp_year,
  };
}

function toOutcome(
  row: Pick<
    GatewayOperationRow,
    "reference" | "status" | "decline_code" | "message" | "created_at"
  >,
): GatewayOutcome {
  const at = row.created_at;
  if (row.status === "succeeded") return { status: "succeeded", reference: row.reference, at };
  return {
    status: "declined",
    reference: row.reference,
    code: (row.decline_code ?? DeclineCode.PROCESSING_ERROR) as DeclineCode,
    message: row.message,
    at,
  };
}
