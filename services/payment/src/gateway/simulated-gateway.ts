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
import { createRememberedCards, type KnownCard } from "./remembered-cards.ts";
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
  /**
   * How many cards (by token) the process remembers, so a charge on one it has seen is a
   * single statement; 10,000 by default (a few MB), 0 to always read the card.
   */
  rememberedCards?: number;
  /** Injected for tests; `Math.random` by default. */
  random?: () => number;
  now?: () => Date;
}

/** A decision as gateway_operations stores it. */
type Decision = Pick<GatewayOperationsTable, "status" | "decline_code" | "message">;

/** gateway_cards joined to an operation (see `cardColumns`); null for an unknown token. */
interface CardColumns {
  card_token: string | null;
  card_brand: string | null;
  card_last4: string | null;
  card_exp_month: number | null;
  card_exp_year: number | null;
  card_behaviour: string | null;
}

/** A gateway operation with the card it charged. */
type OperationWithCard = GatewayOperationRow & CardColumns;

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
 *
 * A card never changes once tokenized, so the process remembers the cards it tokenized or read
 * (bounded, see {@link createRememberedCards}): a charge on one is a single statement, the
 * record of its decision that also reads an outcome recorded earlier under its key. A card it
 * has not seen costs one read first (with the recorded outcome: a replay is that read alone).
 */
export function createSimulatedGateway(
  db: Kysely<GatewayTables>,
  options: SimulatedGatewayOptions,
): CardGateway {
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());
  const cards = createRememberedCards(options.rememberedCards ?? 10_000);

  /** The card of a row that joined gateway_cards, remembered; undefined for an unknown token. */
  function cardOf(row: CardColumns): KnownCard | undefined {
    if (row.card_token === null || row.card_behaviour === null) return undefined;
    const card = toKnownCard({
      brand: row.card_brand ?? "",
      last4: row.card_last4 ?? "",
      exp_month: row.card_exp_month ?? 0,
      exp_year: row.card_exp_year ?? 0,
      behaviour: row.card_behaviour,
    });
    cards.remember(row.card_token, card);
    return card;
  }

  /**
   * What the gateway knows for a charge request, in one read: the outcome recorded under its
   * key (the card then is the one that charge charged) or, for a new key, the request's card.
   */
  async function readChargeAndCard(
    request: GatewayCharge,
  ): Promise<{ replay?: ChargeOutcome; card?: KnownCard }> {
    // Both joins may miss: `reference` is null when the key has no outcome yet.
    const { rows } = await sql<Omit<OperationWithCard, "reference"> & { reference: string | null }>`
      SELECT op.*, ${cardColumns}
      FROM (SELECT 1) AS one
      LEFT JOIN gateway_operations op ON op.idempotency_key = ${request.idempotencyKey}
      LEFT JOIN gateway_cards card ON card.token = coalesce(op.token, ${request.token})
    `.execute(db);
    const row = rows[0]!;
    const card = cardOf(row);
    if (row.reference === null) return card ? { card } : {};
    return { replay: { ...toOutcome({ ...row, reference: row.reference }), card: card?.facts } };
  }

  /**
   * Records a new charge's decision unless its key already has an outcome, in one statement
   * that also reads the outcome recorded before it (a replay, with the card that charge
   * charged). The read sees the snapshot from before the insert: when a concurrent call with
   * the same key committed in between, neither shows and one more read fetches its outcome.
   */
  async function recordCharge(
    request: GatewayCharge,
    decision: Decision,
  ): Promise<
    { replay: ChargeOutcome; outcome?: never } | { replay?: never; outcome: GatewayOutcome }
  > {
    const insert = db
      .insertInto("gateway_operations")
      .values({
        idempotency_key: request.idempotencyKey,
        kind: "charge",
        reference: opaqueId("ch"),
        token: request.token,
        charge_reference: null,
        currency_code: request.amount.currencyCode,
        amount_minor: request.amount.minor.toString(),
        ...decision,
      })
      .onConflict((oc) => oc.column("idempotency_key").doNothing())
      .returningAll();
    const { rows } = await sql<OperationWithCard & { found_by: "inserted" | "earlier" }>`
      WITH inserted AS (${insert})
      SELECT 'inserted' AS found_by, inserted.*, NULL AS card_token, NULL AS card_brand,
             NULL AS card_last4, NULL AS card_exp_month, NULL AS card_exp_year,
             NULL AS card_behaviour
      FROM inserted
      UNION ALL
      SELECT 'earlier', op.*, ${cardColumns}
      FROM gateway_operations op
      LEFT JOIN gateway_cards card ON card.token = coalesce(op.token, ${request.token})
      WHERE op.idempotency_key = ${request.idempotencyKey}
    `.execute(db);
    const row = rows[0];
    if (row?.found_by === "inserted") return { outcome: toOutcome(row) };
    if (row) return { replay: { ...toOutcome(row), card: cardOf(row)?.facts } };
    // A concurrent call with the same key recorded first, after this statement's snapshot.
    return { outcome: (await recorded(request.idempotencyKey))! };
  }

  /** How the gateway answers a new charge on `card` (undefined: the token is unknown). */
  function decide(card: KnownCard | undefined): Decision {
    if (!card) return declined(DeclineCode.INVALID_TOKEN);
    if (isExpired(card.facts.expMonth, card.facts.expYear, now())) {
      return declined(DeclineCode.EXPIRED_CARD);
    }
    if (card.behaviour.kind === "decline") return declined(card.behaviour.code);
    if (random() * 100 < options.failurePercent) return declined(DeclineCode.PROCESSING_ERROR);
    return { status: "succeeded", decline_code: null, message: "" };
  }

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

  function declined(code: DeclineCode): Decision {
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
      const behaviour = behaviourOf(card.number);
      await db
        .insertInto("gateway_cards")
        .values({
          token,
          brand: CardBrand[facts.brand],
          last4: facts.last4,
          exp_month: facts.expMonth,
          exp_year: facts.expYear,
          behaviour: JSON.stringify(behaviour),
        })
        .execute();
      cards.remember(token, { facts, behaviour });
      return { token, card: facts };
    },

    async describe(token: string) {
      const remembered = cards.get(token);
      if (remembered) return { ...remembered.facts };
      const row = await db
        .selectFrom("gateway_cards")
        .selectAll()
        .where("token", "=", token)
        .executeTakeFirst();
      if (!row) return undefined;
      const card = toKnownCard(row);
      cards.remember(token, card);
      return { ...card.facts };
    },

    async charge(request: GatewayCharge): Promise<ChargeOutcome> {
      let card = cards.get(request.token);
      if (!card) {
        // A card this process has not seen (tokenized by another replica, or before a restart):
        // the recorded outcome and the card in one read, which is all a replay needs.
        const read = await readChargeAndCard(request);
        if (read.replay) return read.replay;
        card = read.card;
      }
      const answer = await recordCharge(request, decide(card));
      // A replay answers at once; the call that decided the charge waits as the card says.
      if (answer.replay) return answer.replay;
      if (card?.behaviour.kind === "hang") await answerAfter(options.hangMs, request.signal);
      if (card?.behaviour.kind === "slow") await answerAfter(options.slowMs, request.signal);
      return { ...answer.outcome, card: card && { ...card.facts } };
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

/** The columns of gateway_cards joined as `card`, named as OperationWithCard names them. */
const cardColumns = sql`card.token AS card_token, card.brand AS card_brand,
  card.last4 AS card_last4, card.exp_month AS card_exp_month, card.exp_year AS card_exp_year,
  card.behaviour AS card_behaviour`;

function toKnownCard(
  row: Pick<GatewayCardsTable, "brand" | "last4" | "exp_month" | "exp_year" | "behaviour">,
): KnownCard {
  return {
    facts: {
      brand: CardBrand[row.brand as keyof typeof CardBrand] ?? CardBrand.OTHER,
      last4: row.last4,
      expMonth: row.exp_month,
      expYear: row.exp_year,
    },
    behaviour: JSON.parse(row.behaviour) as CardBehaviour,
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
