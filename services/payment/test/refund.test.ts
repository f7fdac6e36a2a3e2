import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PaymentRefundedSchema } from "@shopmesh/gen/shopmesh/events/v1/payment_events_pb.js";
import {
  DeclineCode,
  type Payment,
  PaymentStatus,
  RefundReason,
  RefundStatus,
} from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { decodeEnvelope, unpackPayload } from "@shopmesh/platform/event-envelope";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
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

describe("PaymentService.Refund and reads", { timeout: 55_000 }, () => {
  let h: PaymentHarness;
  const owner = uuidv7();

  const paid = async (cardNumber = "4242424242424242", amount = 10_000n): Promise<Payment> => {
    const { token } = await h.client.tokenizeCard(
      { cardNumber, expMonth: 12, expYear: 2040, cvc: "123" },
      { metadata: await h.issuer.as(owner) },
    );
    const { payment } = await h.client.charge({
      orderId: uuidv7(),
      userId: owner,
      amount: USD(amount),
      paymentMethodToken: token,
      idempotencyKey: `charge-${uuidv7()}`,
    });
    return payment!;
  };

  const refund = (paymentId: string, amount: bigint | undefined, key = `refund-${uuidv7()}`) =>
    h.client.refund({
      paymentId,
      ...(amount === undefined ? {} : { amount: USD(amount) }),
      reason: RefundReason.CUSTOMER_REQUEST,
      idempotencyKey: key,
    });

  const refundEvents = async (paymentId: string) =>
    (
      await h.app.deps.db
        .selectFrom("outbox")
        .select(["event_type", "envelope"])
        .where("aggregate_id", "=", paymentId)
        .where("event_type", "=", "payment.refunded")
        .orderBy("id")
        .execute()
    ).map((r) => unpackPayload(decodeEnvelope(r.envelope), PaymentRefundedSchema));

  before(async () => {
    h = await startPaymentHarness();
  });
  after(async () => {
    await h?.stop();
  });

  test("a partial refund, then the rest: PARTIALLY_REFUNDED, then REFUNDED, with payment.refunded totals", async () => {
    const payment = await paid();
    const first = await refund(payment.id, 2_500n);
    assert.equal(first.refund?.status, RefundStatus.SUCCEEDED);
    assert.equal(first.payment?.status, PaymentStatus.PARTIALLY_REFUNDED);
    assert.equal(first.payment?.refundedAmount?.amountMinor, 2_500n);
    const rest = await refund(payment.id, undefined);
    assert.equal(rest.refund?.amount?.amountMinor, 7_500n);
    assert.equal(rest.payment?.status, PaymentStatus.REFUNDED);
    assert.equal(rest.payment?.refunds.length, 2);
    const events = await refundEvents(payment.id);
    assert.deepEqual(
      events.map((e) => [e.amount?.amountMinor, e.refundedTotal?.amountMinor, e.paymentStatus]),
      [
        [2_500n, 2_500n, PaymentStatus.PARTIALLY_REFUNDED],
        [7_500n, 10_000n, PaymentStatus.REFUNDED],
      ],
    );
  });

  test("refunding more than remains is FAILED_PRECONDITION and changes nothing", async () => {
    const payment = await paid();
    await refund(payment.id, 6_000n);
    const err = await rejection(refund(payment.id, 4_001n));
    assert.equal(err.code, Code.FAILED_PRECONDITION);
    assert.match(err.message, /exceeds/);
    const after = await h.client.getPayment(
      { paymentId: payment.id },
      { metadata: await h.issuer.as(owner) },
    );
    assert.equal(after.payment?.refundedAmount?.amountMinor, 6_000n);
  });

  test("concurrent refunds never return more than was charged", async () => {
    const payment = await paid();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => refund(payment.id, 3_000n)),
    );
    const succeeded = results.filter((r) => r.status === "fulfilled");
    assert.equal(succeeded.length, 3);
    const rows = await h.app.deps.db
      .selectFrom("refunds")
      .select("amount_minor")
      .where("payment_id", "=", payment.id)
      .execute();
    assert.equal(
      rows.reduce((sum, r) => sum + BigInt(r.amount_minor), 0n),
      9_000n,
    );
  });

  test("a refund is idempotent per key; the same key with another amount is ALREADY_EXISTS", async () => {
    const payment = await paid();
    const key = `refund-${uuidv7()}`;
    const first = await refund(payment.id, 1_000n, key);
    const again = await refund(payment.id, 1_000n, key);
    assert.equal(again.refund?.id, first.refund?.id);
    assert.equal(again.payment?.refundedAmount?.amountMinor, 1_000n);
    assert.equal((await refundEvents(payment.id)).length, 1);
    const err = await rejection(refund(payment.id, 2_000n, key));
    assert.equal(err.code, Code.ALREADY_EXISTS);
    assert.match(err.message, new RegExp(key));
  });

  test("a failed payment cannot be refunded", async () => {
    const payment = await paid("4000000000000002");
    assert.equal(payment.status, PaymentStatus.FAILED);
    const err = await rejection(refund(payment.id, undefined));
    assert.equal(err.code, Code.FAILED_PRECONDITION);
  });

  test("a card whose refunds fail answers a FAILED refund with PROCESSING_ERROR and keeps the money charged", async () => {
    const payment = await paid("4000000000005126");
    const res = await refund(payment.id, 1_000n);
    assert.equal(res.refund?.status, RefundStatus.FAILED);
    assert.equal(res.refund?.failure?.code, DeclineCode.PROCESSING_ERROR);
    assert.equal(res.payment?.status, PaymentStatus.SUCCEEDED);
    assert.equal((await refundEvents(payment.id)).length, 0);
  });

  test("refund input is validated: unknown payment NOT_FOUND, bad fields INVALID_ARGUMENT", async () => {
    const missing = await rejection(refund(uuidv7(), 100n));
    assert.equal(missing.code, Code.NOT_FOUND);
    const zero = await rejection(refund(uuidv7(), 0n));
    assert.equal(zero.code, Code.INVALID_ARGUMENT);
    assert.match(zero.message, /amount/);
    const noReason = await rejection(
      h.client.refund({ paymentId: uuidv7(), idempotencyKey: `refund-${uuidv7()}` }),
    );
    assert.equal(noReason.code, Code.INVALID_ARGUMENT);
    assert.match(noReason.message, /reason/);
  });

  test("reads: the owner and admins see a payment, another user gets PERMISSION_DENIED, anonymous UNAUTHENTICATED", async () => {
    const payment = await paid();
    const mine = await h.client.getPayment(
      { paymentId: payment.id },
      { metadata: await h.issuer.as(owner) },
    );
    assert.equal(mine.payment?.id, payment.id);
    const admin = await h.client.getPaymentByOrder(
      { orderId: payment.orderId },
      { metadata: await h.issuer.as(uuidv7(), { admin: true }) },
    );
    assert.equal(admin.payment?.id, payment.id);
    const stranger = await h.issuer.as(uuidv7());
    const denied = [
      () => h.client.getPayment({ paymentId: payment.id }, { metadata: stranger }),
      () => h.client.getPaymentByOrder({ orderId: payment.orderId }, { metadata: stranger }),
    ];
    for (const call of denied) {
      assert.equal((await rejection(call())).code, Code.PERMISSION_DENIED);
    }
    assert.equal(
      (await rejection(h.client.getPayment({ paymentId: payment.id }))).code,
      Code.UNAUTHENTICATED,
    );
    const none = await rejection(
      h.client.getPaymentByOrder({ orderId: uuidv7() }, { metadata: await h.issuer.as(owner) }),
    );
    assert.equal(none.code, Code.NOT_FOUND);
  });

  test("DescribeCardToken returns the card behind a token and NOT_FOUND for an unknown one", async () => {
    const { token } = await h.client.tokenizeCard(
      { cardNumber: "5555555555554444", expMonth: 3, expYear: 2041, cvc: "999" },
      { metadata: await h.issuer.as(owner) },
    );
    const described = await h.client.describeCardToken({ token });
    assert.equal(described.card?.last4, "4444");
    assert.equal(described.card?.expYear, 2041);
    const err = await rejection(h.client.describeCardToken({ token: "tok_unknown1" }));
    assert.equal(err.code, Code.NOT_FOUND);
  });
});
