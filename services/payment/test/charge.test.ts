import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { DeclineCode, PaymentStatus } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { sql } from "kysely";
import { type PaymentHarness, startPaymentHarness } from "./support/payment-harness.ts";

const USD = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  const err = await promise.then(
    () => assert.fail("expected the call to fail"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
  return err;
}

describe("PaymentService.Charge", { timeout: 55_000 }, () => {
  let h: PaymentHarness;
  const userId = uuidv7();
  const tokens = new Map<string, string>();

  const tokenFor = async (cardNumber: string) => {
    let token = tokens.get(cardNumber);
    if (!token) {
      const res = await h.client.tokenizeCard(
        { cardNumber, expMonth: 12, expYear: 2040, cvc: "123", cardholderName: "Ada Lovelace" },
        { metadata: await h.issuer.as(userId) },
      );
      token = res.token;
      tokens.set(cardNumber, token);
    }
    return token;
  };

  const charge = async (
    cardNumber: string,
    overrides: { orderId?: string; key?: string; amount?: bigint } = {},
    timeoutMs?: number,
  ) =>
    h.client.charge(
      {
        orderId: overrides.orderId ?? uuidv7(),
        userId,
        amount: USD(overrides.amount ?? 2599n),
        paymentMethodToken: await tokenFor(cardNumber),
        idempotencyKey: overrides.key ?? `charge-${uuidv7()}`,
        description: "shopmesh order",
      },
      timeoutMs ? { timeoutMs } : {},
    );

  const outboxTypes = async (paymentId: string) =>
    (
      await h.app.deps.db
        .selectFrom("outbox")
        .select("event_type")
        .where("aggregate_id", "=", paymentId)
        .orderBy("id")
        .execute()
    ).map((r) => r.event_type);

  before(async () => {
    h = await startPaymentHarness();
  });
  after(async () => {
    await h?.stop();
  });

  test("charges a 4242 card: SUCCEEDED with brand and last four, and payment.successful in the outbox", async () => {
    const { payment } = await charge("4242424242424242");
    assert.equal(payment?.status, PaymentStatus.SUCCEEDED);
    assert.equal(payment?.method?.brand, CardBrand.VISA);
    assert.equal(payment?.method?.last4, "4242");
    assert.match(payment?.gatewayReference ?? "", /^ch_/);
    assert.deepEqual(await outboxTypes(payment!.id), ["payment.successful"]);
  });

  test("a declined card is an OK answer: FAILED with CARD_DECLINED and payment.failed", async () => {
    const { payment } = await charge("4000000000000002");
    assert.equal(payment?.status, PaymentStatus.FAILED);
    assert.equal(payment?.failure?.code, DeclineCode.CARD_DECLINED);
    assert.notEqual(payment?.failure?.message, "");
    assert.deepEqual(await outboxTypes(payment!.id), ["payment.failed"]);
  });

  test("a card without funds fails with INSUFFICIENT_FUNDS", async () => {
    const { payment } = await charge("4000000000009995");
    assert.equal(payment?.status, PaymentStatus.FAILED);
    assert.equal(payment?.failure?.code, DeclineCode.INSUFFICIENT_FUNDS);
  });

  test("a charge that hangs past the deadline is DEADLINE_EXCEEDED, and a retry with the same key learns it went through", async () => {
    const orderId = uuidv7();
    const key = `charge-${uuidv7()}`;
    const err = await rejection(charge("4000000000007700", { orderId, key }, 500));
    assert.equal(err.code, Code.DEADLINE_EXCEEDED);
    const pending = await h.app.deps.db
      .selectFrom("payments")
      .select(["id", "status"])
      .where("idempotency_key", "=", key)
      .executeTakeFirstOrThrow();
    assert.equal(pending.status, "PENDING");

    const { payment } = await charge("4000000000007700", { orderId, key }, 2_000);
    assert.equal(payment?.id, pending.id);
    assert.equal(payment?.status, PaymentStatus.SUCCEEDED);
    const gatewayCharges = await h.app.deps.db
      .selectFrom("gateway_operations")
      .select("reference")
      .where("idempotency_key", "=", pending.id)
      .execute();
    assert.equal(gatewayCharges.length, 1, "the gateway charged exactly once");
    assert.equal(gatewayCharges[0]?.reference, payment?.gatewayReference);
    assert.deepEqual(await outboxTypes(pending.id), ["payment.successful"]);
  });

  test("a slow card succeeds after about 1.5 s", async () => {
    const started = Date.now();
    const { payment } = await charge("4000000000007718", {}, 5_000);
    assert.ok(Date.now() - started >= 1_400, "the answer took the gateway's slow path");
    assert.equal(payment?.status, PaymentStatus.SUCCEEDED);
  });

  test("the same key and body replays the stored payment without a second charge or event", async () => {
    const orderId = uuidv7();
    const key = `charge-${uuidv7()}`;
    const first = await charge("4242424242424242", { orderId, key });
    const second = await charge("4242424242424242", { orderId, key });
    assert.equal(second.payment?.id, first.payment?.id);
    assert.equal(second.payment?.status, PaymentStatus.SUCCEEDED);
    assert.deepEqual(await outboxTypes(first.payment!.id), ["payment.successful"]);
  });

  test("the same key with a different body is ALREADY_EXISTS naming the key", async () => {
    const orderId = uuidv7();
    const key = `charge-${uuidv7()}`;
    await charge("4242424242424242", { orderId, key, amount: 1000n });
    const err = await rejection(charge("4242424242424242", { orderId, key, amount: 2000n }));
    assert.equal(err.code, Code.ALREADY_EXISTS);
    assert.match(err.message, new RegExp(key));
  });

  test("20 concurrent charges for one order under different keys leave exactly one SUCCEEDED", async () => {
    const orderId = uuidv7();
    await tokenFor("4242424242424242");
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => charge("4242424242424242", { orderId })),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    assert.equal(ok.length, 1);
    for (const r of refused) {
      assert.ok(r.reason instanceof RpcError);
      assert.equal(r.reason.code, Code.FAILED_PRECONDITION);
    }
    const rows = await h.app.deps.db
      .selectFrom("payments")
      .select("status")
      .where("order_id", "=", orderId)
      .execute();
    assert.deepEqual(
      rows.map((r) => r.status),
      ["SUCCEEDED"],
    );
  });

  test("charging a paid order under a new key is FAILED_PRECONDITION naming the existing payment", async () => {
    const orderId = uuidv7();
    const { payment } = await charge("4242424242424242", { orderId });
    const err = await rejection(charge("5555555555554444", { orderId }));
    assert.equal(err.code, Code.FAILED_PRECONDITION);
    assert.match(err.message, new RegExp(payment!.id));
  });

  test("a declined order can be charged again with another card", async () => {
    const orderId = uuidv7();
    const declined = await charge("4000000000000002", { orderId });
    assert.equal(declined.payment?.status, PaymentStatus.FAILED);
    const paid = await charge("4242424242424242", { orderId });
    assert.equal(paid.payment?.status, PaymentStatus.SUCCEEDED);
    const byOrder = await h.client.getPaymentByOrder(
      { orderId },
      { metadata: await h.issuer.as(userId) },
    );
    assert.equal(byOrder.payment?.id, paid.payment?.id);
  });

  test("an unknown token fails the charge with INVALID_TOKEN", async () => {
    const res = await h.client.charge({
      orderId: uuidv7(),
      userId,
      amount: USD(100n),
      paymentMethodToken: "tok_doesnotexist",
      idempotencyKey: `charge-${uuidv7()}`,
    });
    assert.equal(res.payment?.status, PaymentStatus.FAILED);
    assert.equal(res.payment?.failure?.code, DeclineCode.INVALID_TOKEN);
  });

  test("bad input is INVALID_ARGUMENT naming the field", async () => {
    const base = {
      orderId: uuidv7(),
      userId,
      amount: USD(100n),
      paymentMethodToken: await tokenFor("4242424242424242"),
      idempotencyKey: `charge-${uuidv7()}`,
    };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ orderId: "not-a-uuid" }, /order_id/],
      [{ amount: USD(0n) }, /amount/],
      [{ idempotencyKey: "short" }, /idempotency_key/],
    ];
    for (const [patch, field] of cases) {
      const err = await rejection(h.client.charge({ ...base, ...patch }));
      assert.equal(err.code, Code.INVALID_ARGUMENT);
      assert.match(err.message, field);
    }
  });

  test("tokenizing rejects a Luhn-invalid number, an expired card and anonymous callers", async () => {
    const metadata = await h.issuer.as(userId);
    const card = { cardNumber: "4242424242424241", expMonth: 1, expYear: 2040, cvc: "123" };
    const luhn = await rejection(h.client.tokenizeCard(card, { metadata }));
    assert.equal(luhn.code, Code.INVALID_ARGUMENT);
    assert.match(luhn.message, /card_number/);
    const expired = await rejection(
      h.client.tokenizeCard(
        { ...card, cardNumber: "4242424242424242", expYear: 2020 },
        { metadata },
      ),
    );
    assert.equal(expired.code, Code.FAILED_PRECONDITION);
    const anonymous = await rejection(
      h.client.tokenizeCard({ ...card, cardNumber: "4242424242424242" }),
    );
    assert.equal(anonymous.code, Code.UNAUTHENTICATED);
  });

  test("no table holds a card number or CVC, only tokens, brand and last four", async () => {
    const numbers = [...tokens.keys()];
    assert.ok(numbers.length >= 5);
    const tables = await sql<{ table_name: string }>`
      SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`.execute(h.app.deps.db);
    for (const { table_name } of tables.rows) {
      const dump = await sql<{ row: string }>`
        SELECT t::text AS row FROM ${sql.table(table_name)} t`.execute(h.app.deps.db);
      const text = dump.rows.map((r) => r.row).join("\n");
      for (const number of numbers) {
        assert.ok(!text.includes(number), `${table_name} contains card number ${number}`);
      }
      // The envelope bytes of the outbox are binary protobuf: check them too.
      if (table_name === "outbox") {
        const blobs = await h.app.deps.db.selectFrom("outbox").select("envelope").execute();
        const all = Buffer.concat(blobs.map((b) => Buffer.from(b.envelope))).toString("latin1");
        for (const number of numbers) assert.ok(!all.includes(number));
      }
    }
    const stored = await h.app.deps.db
      .selectFrom("payments")
      .select(["payment_token", "card_brand", "card_last4"])
      .execute();
    assert.ok(stored.every((p) => p.payment_token.startsWith("tok_")));
  });
});
