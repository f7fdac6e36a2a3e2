import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { DeclineCode } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { UnavailableError } from "@shopmesh/platform/errors";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { sql } from "kysely";
import type { CardGateway, ChargeOutcome, GatewayCharge } from "../src/gateway/gateway.ts";
import {
  createSimulatedGateway,
  type SimulatedGatewayOptions,
} from "../src/gateway/simulated-gateway.ts";
import { type PaymentHarness, startPaymentHarness } from "./support/payment-harness.ts";
import { createLoggedDb, type LoggedDb } from "./support/statement-log.ts";

/**
 * The simulated gateway's charge: one statement for a card the process remembers, one read
 * more for a card it has not seen, and the same answers either way.
 */
describe("Simulated gateway charge", { timeout: 55_000 }, () => {
  let h: PaymentHarness;
  let logged: LoggedDb;

  /** A gateway with a memory of its own, as another replica or a restarted process has. */
  const gateway = (options: Partial<SimulatedGatewayOptions> = {}): CardGateway =>
    createSimulatedGateway(logged.db as never, {
      hangMs: 5_000,
      slowMs: 0,
      failurePercent: 0,
      ...options,
    });

  const tokenize = async (g: CardGateway, number: string, expMonth = 12, expYear = 2040) =>
    (await g.tokenize({ number, expMonth, expYear, cvc: "123", holderName: "Ada Lovelace" })).token;

  const request = (token: string, patch: Partial<GatewayCharge> = {}): GatewayCharge => ({
    idempotencyKey: uuidv7(),
    token,
    amount: { currencyCode: "USD", minor: 2599n },
    description: "shopmesh order",
    ...patch,
  });

  /** What `fn` returns and the statements it sent. */
  const counted = async <T>(fn: () => Promise<T>): Promise<{ value: T; statements: string[] }> => {
    logged.statements.length = 0;
    const value = await fn();
    return { value, statements: [...logged.statements] };
  };

  const recordedRows = async (key: string) => {
    const { rows } = await sql<{ reference: string; status: string; xmin: string }>`
      SELECT reference, status, xmin::text FROM gateway_operations
      WHERE idempotency_key = ${key}`.execute(h.app.deps.db);
    return rows;
  };

  /** The parts of an answer a replay must repeat exactly. */
  const answerOf = (o: ChargeOutcome) => ({
    status: o.status,
    reference: o.reference,
    code: o.status === "declined" ? o.code : undefined,
    message: o.status === "declined" ? o.message : undefined,
    at: o.at.getTime(),
    card: o.card,
  });

  before(async () => {
    h = await startPaymentHarness();
    logged = createLoggedDb(h.dbName);
  });
  after(async () => {
    await logged?.destroy();
    await h?.stop();
  });

  test("a new charge on a card the process tokenized is one statement, recorded as decided", async () => {
    const g = gateway();
    const token = await tokenize(g, "4242424242424242");
    const charge = request(token);
    const { value, statements } = await counted(() => g.charge(charge));

    assert.equal(statements.length, 1, statements.join("\n"));
    assert.equal(value.status, "succeeded");
    assert.deepEqual(value.card, {
      brand: CardBrand.VISA,
      last4: "4242",
      expMonth: 12,
      expYear: 2040,
    });
    const rows = await recordedRows(charge.idempotencyKey);
    assert.deepEqual(
      rows.map((r) => [r.reference, r.status]),
      [[value.reference, "succeeded"]],
    );
  });

  test("a remembered declining card declines with its code, and its key replays the first answer in one statement without writing", async () => {
    const g = gateway();
    const token = await tokenize(g, "4000000000000002");
    const charge = request(token);
    const first = await counted(() => g.charge(charge));
    assert.equal(first.statements.length, 1);
    assert.equal(first.value.status, "declined");
    assert.equal(first.value.status === "declined" && first.value.code, DeclineCode.CARD_DECLINED);
    const [before] = await recordedRows(charge.idempotencyKey);

    const replay = await counted(() => g.charge(charge));
    assert.equal(replay.statements.length, 1, replay.statements.join("\n"));
    assert.deepEqual(answerOf(replay.value), answerOf(first.value));
    assert.deepEqual(await recordedRows(charge.idempotencyKey), [before], "nothing rewritten");

    const elsewhere = await counted(() => gateway().charge(charge));
    assert.equal(elsewhere.statements.length, 1, "a replay on a card not remembered is the read");
    assert.deepEqual(answerOf(elsewhere.value), answerOf(first.value));
  });

  test("a different request under a recorded key answers the recorded charge and its card, remembered or not", async () => {
    const g = gateway();
    const declining = await tokenize(g, "4000000000000002");
    const succeeding = await tokenize(g, "4242424242424242");
    const charge = request(declining);
    const first = await g.charge(charge);

    const other = { ...charge, token: succeeding, amount: { currencyCode: "EUR", minor: 1n } };
    const remembered = await g.charge(other);
    const notRemembered = await gateway().charge(other);
    assert.deepEqual(answerOf(remembered), answerOf(first));
    assert.deepEqual(answerOf(notRemembered), answerOf(first));
    assert.equal(remembered.card?.last4, "0002", "the card that charge charged");
    assert.equal((await recordedRows(charge.idempotencyKey)).length, 1);
  });

  test("a card another process tokenized costs one read, then is remembered", async () => {
    const token = await tokenize(gateway(), "4000000000009995");
    const replica = gateway();
    const first = await counted(() => replica.charge(request(token)));
    assert.equal(first.statements.length, 2, first.statements.join("\n"));
    assert.equal(
      first.value.status === "declined" && first.value.code,
      DeclineCode.INSUFFICIENT_FUNDS,
    );
    assert.equal(first.value.card?.last4, "9995");

    const second = await counted(() => replica.charge(request(token)));
    assert.equal(second.statements.length, 1);
    assert.equal(
      second.value.status === "declined" && second.value.code,
      DeclineCode.INSUFFICIENT_FUNDS,
    );
    assert.deepEqual(second.value.card, first.value.card);
  });

  test("an unknown token declines INVALID_TOKEN without a card, every time (it is never remembered)", async () => {
    const g = gateway();
    for (let i = 0; i < 2; i++) {
      const charge = request("tok_doesnotexist");
      const { value, statements } = await counted(() => g.charge(charge));
      assert.equal(statements.length, 2, statements.join("\n"));
      assert.equal(value.status, "declined");
      assert.equal(value.status === "declined" && value.code, DeclineCode.INVALID_TOKEN);
      assert.equal(value.card, undefined);
      assert.equal((await recordedRows(charge.idempotencyKey))[0]?.status, "declined");
    }
    assert.equal(await g.describe("tok_doesnotexist"), undefined);
  });

  test("a remembered card still expires: expiry is judged at each charge", async () => {
    let clock = new Date("2030-12-15T00:00:00Z");
    const g = gateway({ now: () => clock });
    const token = await tokenize(g, "4242424242424242", 12, 2030);
    assert.equal((await g.charge(request(token))).status, "succeeded");

    clock = new Date("2031-01-01T00:00:00Z");
    const { value, statements } = await counted(() => g.charge(request(token)));
    assert.equal(statements.length, 1);
    assert.equal(value.status === "declined" && value.code, DeclineCode.EXPIRED_CARD);
  });

  test("the random processing errors apply to remembered cards, and a replay keeps the first decision", async () => {
    const draws = [0.1, 0.9, 0.9];
    const g = gateway({ failurePercent: 50, random: () => draws.shift() ?? 0.9 });
    const token = await tokenize(g, "4242424242424242");
    const failing = request(token);
    const failed = await g.charge(failing);
    assert.equal(failed.status === "declined" && failed.code, DeclineCode.PROCESSING_ERROR);
    assert.equal((await g.charge(request(token))).status, "succeeded");
    assert.deepEqual(answerOf(await g.charge(failing)), answerOf(failed));
  });

  test("concurrent first calls with one key record one charge, and all answer it", async () => {
    const g = gateway();
    const token = await tokenize(g, "4242424242424242");
    const charge = request(token);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? g : gateway()).charge(charge)),
    );
    const rows = await recordedRows(charge.idempotencyKey);
    assert.equal(rows.length, 1);
    for (const answer of answers) {
      assert.equal(answer.reference, rows[0]?.reference);
      assert.equal(answer.card?.last4, "4242");
    }
  });

  test("a hanging card's caller gives up, and the same key then answers at once with the charge that went through", async () => {
    const g = gateway();
    const token = await tokenize(g, "4000000000007700");
    const abandoned = new AbortController();
    const charge = request(token, { signal: abandoned.signal });
    setTimeout(() => abandoned.abort(), 100);
    await assert.rejects(g.charge(charge), UnavailableError);
    const [recorded] = await recordedRows(charge.idempotencyKey);
    assert.equal(recorded?.status, "succeeded", "the charge went through");

    const started = Date.now();
    const { value, statements } = await counted(() =>
      g.charge({ ...charge, signal: new AbortController().signal }),
    );
    assert.ok(Date.now() - started < 1_000, "a replay does not hang");
    assert.equal(statements.length, 1);
    assert.equal(value.status, "succeeded");
    assert.equal(value.reference, recorded?.reference);
  });

  test("describe answers a card the process knows without a statement", async () => {
    const token = await tokenize(gateway(), "5555555555554444");
    const g = gateway();
    const first = await counted(() => g.describe(token));
    assert.equal(first.statements.length, 1);
    assert.deepEqual(first.value, {
      brand: CardBrand.MASTERCARD,
      last4: "4444",
      expMonth: 12,
      expYear: 2040,
    });
    const again = await counted(() => g.describe(token));
    assert.equal(again.statements.length, 0);
    assert.deepEqual(again.value, first.value);
  });

  test("the memory is bounded: a card pushed out is read again and charged the same", async () => {
    const g = gateway({ rememberedCards: 2 });
    const oldest = await tokenize(g, "4000000000000002");
    await tokenize(g, "4242424242424242");
    await tokenize(g, "5555555555554444");
    const { value, statements } = await counted(() => g.charge(request(oldest)));
    assert.equal(statements.length, 2);
    assert.equal(value.status === "declined" && value.code, DeclineCode.CARD_DECLINED);
  });
});
