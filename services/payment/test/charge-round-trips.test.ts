import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { FailedPreconditionError } from "@shopmesh/platform/errors";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { sql } from "kysely";
import { type ChargeInput, chargeOrder, resolvePending } from "../src/charge.ts";
import type { PaymentDeps } from "../src/deps.ts";
import { createSimulatedGateway } from "../src/gateway/simulated-gateway.ts";
import { findPaymentForOrder } from "../src/store.ts";
import { type PaymentHarness, startPaymentHarness } from "./support/payment-harness.ts";
import { createLoggedDb, type LoggedDb } from "./support/statement-log.ts";

/**
 * What a charge costs in round trips to Postgres (every statement, BEGIN and COMMIT included),
 * and that the cheaper paths keep the charge's guarantees.
 */
describe("Charge round trips", { timeout: 55_000 }, () => {
  let h: PaymentHarness;
  let logged: LoggedDb;
  let deps: PaymentDeps;
  const userId = uuidv7();
  const tokens: Record<string, string> = {};

  const input = (card: string, patch: Partial<ChargeInput> = {}): ChargeInput => {
    const orderId = patch.orderId ?? uuidv7();
    return {
      orderId,
      userId,
      amount: { currencyCode: "USD", minor: 2599n },
      token: tokens[card]!,
      idempotencyKey: `order-${orderId}-charge`,
      description: `shopmesh order ${orderId}`,
      ...patch,
    };
  };

  /** The statements `fn` sends. */
  const statementsOf = async (fn: () => Promise<unknown>) => {
    logged.statements.length = 0;
    await fn();
    return [...logged.statements];
  };

  const events = async (paymentId: string) =>
    (
      await h.app.deps.db
        .selectFrom("outbox")
        .select("event_type")
        .where("aggregate_id", "=", paymentId)
        .execute()
    ).map((r) => r.event_type);

  const rowVersion = async (paymentId: string) => {
    const { rows } = await sql<{ xmin: string }>`
      SELECT xmin::text FROM payments WHERE id = ${paymentId}`.execute(h.app.deps.db);
    return rows[0]?.xmin;
  };

  before(async () => {
    h = await startPaymentHarness();
    logged = createLoggedDb(h.dbName);
    const gateway = createSimulatedGateway(logged.db as never, {
      hangMs: 5_000,
      slowMs: 0,
      failurePercent: 0,
    });
    deps = { db: logged.db, gateway, logger: h.app.deps.logger };
    for (const number of ["4242424242424242", "4000000000000002", "4000000000007700"]) {
      const { token } = await gateway.tokenize({
        number,
        expMonth: 12,
        expYear: 2040,
        cvc: "123",
        holderName: "Ada Lovelace",
      });
      tokens[number] = token;
    }
  });
  after(async () => {
    await logged?.destroy();
    await h?.stop();
  });

  test("a new charge is three statements and no transaction: claim, the gateway's record, settle with its event", async () => {
    let result: Awaited<ReturnType<typeof chargeOrder>> | undefined;
    const statements = await statementsOf(async () => {
      result = await chargeOrder(deps, input("4242424242424242"));
    });

    assert.equal(statements.length, 3, statements.join("\n"));
    assert.ok(!statements.some((s) => /^\s*(begin|commit)/i.test(s)));
    assert.equal(result?.payment.status, "SUCCEEDED");
    assert.deepEqual(result?.refunds, []);
    assert.equal(result?.payment.card?.brand, CardBrand.VISA, "the card comes with the answer");
    assert.equal(result?.payment.card?.last4, "4242");
    assert.deepEqual(await events(result!.payment.id), ["payment.successful"]);
  });

  test("a card this process has not seen (another replica tokenized it) costs one read more, once", async () => {
    const replica: PaymentDeps = {
      ...deps,
      gateway: createSimulatedGateway(logged.db as never, {
        hangMs: 5_000,
        slowMs: 0,
        failurePercent: 0,
      }),
    };
    let result: Awaited<ReturnType<typeof chargeOrder>> | undefined;
    const first = await statementsOf(async () => {
      result = await chargeOrder(replica, input("4242424242424242"));
    });
    assert.equal(first.length, 4, first.join("\n"));
    assert.equal(result?.payment.status, "SUCCEEDED");
    assert.equal(result?.payment.card?.last4, "4242");

    const second = await statementsOf(() => chargeOrder(replica, input("4242424242424242")));
    assert.equal(second.length, 3, second.join("\n"));
  });

  test("replaying a settled charge writes nothing: one statement for a decline, two with the refunds of a success", async () => {
    const declined = input("4000000000000002");
    const first = await chargeOrder(deps, declined);
    const before = await rowVersion(first.payment.id);
    const replay = await statementsOf(() => chargeOrder(deps, declined));
    assert.equal(replay.length, 1, replay.join("\n"));
    assert.equal(await rowVersion(first.payment.id), before, "the row was not rewritten");

    const paid = input("4242424242424242");
    const charged = await chargeOrder(deps, paid);
    let again: Awaited<ReturnType<typeof chargeOrder>> | undefined;
    const paidReplay = await statementsOf(async () => {
      again = await chargeOrder(deps, paid);
    });
    assert.equal(paidReplay.length, 2, paidReplay.join("\n"));
    assert.equal(again?.payment.id, charged.payment.id);
    assert.deepEqual(await events(charged.payment.id), ["payment.successful"]);
    assert.deepEqual(await events(first.payment.id), ["payment.failed"]);
  });

  test("a second charge of a paid order under another key is refused in one statement", async () => {
    const paid = input("4242424242424242");
    const { payment } = await chargeOrder(deps, paid);
    let refusal: unknown;
    const statements = await statementsOf(() =>
      chargeOrder(deps, { ...paid, idempotencyKey: `other-${uuidv7()}` }).catch((err) => {
        refusal = err;
      }),
    );
    assert.equal(statements.length, 1, statements.join("\n"));
    assert.ok(refusal instanceof FailedPreconditionError);
    assert.match(refusal.message, new RegExp(payment.id));
  });

  test("settling a charge left pending is two statements, and concurrent settlers record one outcome and one event", async () => {
    const hung = async () => {
      const request = input("4000000000007700");
      const abandoned = new AbortController();
      setTimeout(() => abandoned.abort(), 200);
      await assert.rejects(chargeOrder(deps, { ...request, signal: abandoned.signal }));
      const pending = await findPaymentForOrder(h.app.deps.db, request.orderId);
      assert.equal(pending?.status, "PENDING");
      return { request, pending: pending! };
    };

    const alone = await hung();
    const statements = await statementsOf(() => resolvePending(deps, alone.pending));
    assert.equal(statements.length, 2, statements.join("\n"));

    const raced = await hung();
    const results = await Promise.all([
      resolvePending(deps, raced.pending),
      resolvePending(deps, raced.pending),
      chargeOrder(deps, raced.request),
    ]);
    const references = new Set(results.map((r) => r.payment.gatewayReference));
    assert.equal(references.size, 1, "every settler reports the gateway's one outcome");
    for (const { payment } of results) {
      assert.equal(payment.status, "SUCCEEDED");
      assert.equal(payment.card?.last4, "7700");
    }
    assert.deepEqual(await events(raced.pending.id), ["payment.successful"]);
  });

  test("an order's payment to show is the charge that took money, else its latest attempt, in one statement", async () => {
    const orderId = uuidv7();
    const declined = await chargeOrder(deps, input("4000000000000002", { orderId }));
    const declinedAgain = await chargeOrder(
      deps,
      input("4000000000000002", { orderId, idempotencyKey: `retry-${uuidv7()}` }),
    );
    let shown: Awaited<ReturnType<typeof findPaymentForOrder>>;
    const statements = await statementsOf(async () => {
      shown = await findPaymentForOrder(logged.db, orderId);
    });
    assert.equal(statements.length, 1);
    assert.equal(shown!.id, declinedAgain.payment.id);
    assert.notEqual(shown!.id, declined.payment.id);

    const paid = await chargeOrder(
      deps,
      input("4242424242424242", { orderId, idempotencyKey: `paid-${uuidv7()}` }),
    );
    await chargeOrder(
      deps,
      input("4000000000000002", { orderId, idempotencyKey: `late-${uuidv7()}` }),
    ).catch(() => {});
    assert.equal((await findPaymentForOrder(logged.db, orderId))?.id, paid.payment.id);
  });
});
