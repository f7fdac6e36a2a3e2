import assert from "node:assert/strict";
import { test } from "node:test";
import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { DeclineCode, RefundReason } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { FailedPreconditionError, InvalidArgumentError } from "@shopmesh/platform/errors";
import {
  fingerprint,
  mayHaveRefunds,
  type Payment,
  planRefund,
  type Refund,
  refundableMinor,
  settleCharge,
  settleRefund,
} from "./payment.ts";

const at = new Date("2030-01-01T00:00:00Z");
const payment = (patch: Partial<Payment> = {}): Payment => ({
  id: "p1",
  orderId: "o1",
  userId: "u1",
  amount: { currencyCode: "USD", minor: 1000n },
  status: "SUCCEEDED",
  card: undefined,
  token: "tok_1",
  description: "",
  gatewayReference: "ch_1",
  failure: undefined,
  refundedMinor: 0n,
  idempotencyKey: "key-1",
  requestHash: "h",
  createdAt: at,
  updatedAt: at,
  ...patch,
});
const refund = (minor: bigint, status: Refund["status"] = "SUCCEEDED"): Refund => ({
  id: `r${minor}`,
  paymentId: "p1",
  amount: { currencyCode: "USD", minor },
  reason: RefundReason.CUSTOMER_REQUEST,
  note: "",
  status,
  gatewayReference: "",
  failure: undefined,
  idempotencyKey: `rk${minor}`,
  requestHash: "h",
  createdAt: at,
  updatedAt: at,
});

test("the fingerprint ignores field order and changes with any value", () => {
  assert.equal(fingerprint({ a: 1, b: "x" }), fingerprint({ b: "x", a: 1 }));
  assert.notEqual(fingerprint({ a: 1n }), fingerprint({ a: 2n }));
});

test("settling a pending charge records success or the decline; a settled one cannot change", () => {
  const pending = payment({ status: "PENDING", gatewayReference: "" });
  const ok = settleCharge(pending, { status: "succeeded", reference: "ch_9", at, card: undefined });
  assert.equal(ok.status, "SUCCEEDED");
  assert.equal(ok.gatewayReference, "ch_9");
  const no = settleCharge(pending, {
    status: "declined",
    reference: "ch_8",
    code: DeclineCode.CARD_DECLINED,
    message: "declined",
    at,
    card: undefined,
  });
  assert.equal(no.status, "FAILED");
  assert.equal(no.failure?.code, DeclineCode.CARD_DECLINED);
  assert.throws(
    () => settleCharge(ok, { status: "succeeded", reference: "x", at, card: undefined }),
    FailedPreconditionError,
  );
});

test("a settled charge takes the card the gateway charged, and keeps a known one the answer lacks", () => {
  const visa = { brand: CardBrand.VISA, last4: "4242", expMonth: 12, expYear: 2040 };
  const pending = payment({ status: "PENDING", gatewayReference: "" });
  const charged = settleCharge(pending, { status: "succeeded", reference: "ch_7", at, card: visa });
  assert.deepEqual(charged.card, visa);
  const known = payment({ status: "PENDING", gatewayReference: "", card: visa });
  const unknownToken = settleCharge(known, {
    status: "declined",
    reference: "ch_6",
    code: DeclineCode.INVALID_TOKEN,
    message: "gone",
    at,
    card: undefined,
  });
  assert.deepEqual(unknownToken.card, visa);
});

test("only a charge that took money may have refunds", () => {
  for (const status of ["SUCCEEDED", "PARTIALLY_REFUNDED", "REFUNDED"] as const) {
    assert.equal(mayHaveRefunds(payment({ status })), true, status);
  }
  for (const status of ["PENDING", "FAILED"] as const) {
    assert.equal(mayHaveRefunds(payment({ status })), false, status);
  }
});

test("refunds in flight count against what remains refundable", () => {
  assert.equal(
    refundableMinor(payment(), [refund(300n), refund(200n, "PENDING"), refund(100n, "FAILED")]),
    500n,
  );
});

test("a refund defaults to everything left and may never exceed it", () => {
  assert.equal(planRefund(payment(), [refund(300n)], undefined), 700n);
  assert.equal(planRefund(payment(), [], { currencyCode: "USD", minor: 1000n }), 1000n);
  assert.throws(
    () => planRefund(payment(), [refund(300n)], { currencyCode: "USD", minor: 701n }),
    FailedPreconditionError,
  );
});

test("refunds are refused for failed or fully refunded payments and other currencies", () => {
  assert.throws(
    () => planRefund(payment({ status: "FAILED" }), [], undefined),
    FailedPreconditionError,
  );
  assert.throws(
    () => planRefund(payment({ status: "PENDING" }), [], undefined),
    FailedPreconditionError,
  );
  assert.throws(
    () => planRefund(payment({ status: "REFUNDED" }), [refund(1000n)], undefined),
    FailedPreconditionError,
  );
  assert.throws(
    () => planRefund(payment(), [], { currencyCode: "EUR", minor: 1n }),
    (err: unknown) =>
      err instanceof InvalidArgumentError && /amount.currency_code/.test(err.message),
  );
});

test("a succeeded refund moves the payment to partially, then fully refunded", () => {
  const first = settleRefund(payment(), refund(400n, "PENDING"), {
    status: "succeeded",
    reference: "re_1",
    at,
  });
  assert.equal(first.payment.status, "PARTIALLY_REFUNDED");
  assert.equal(first.payment.refundedMinor, 400n);
  assert.equal(first.refund.status, "SUCCEEDED");
  const second = settleRefund(first.payment, refund(600n, "PENDING"), {
    status: "succeeded",
    reference: "re_2",
    at,
  });
  assert.equal(second.payment.status, "REFUNDED");
  const failed = settleRefund(payment(), refund(100n, "PENDING"), {
    status: "declined",
    reference: "re_3",
    code: DeclineCode.PROCESSING_ERROR,
    message: "x",
    at,
  });
  assert.equal(failed.refund.status, "FAILED");
  assert.equal(failed.payment.status, "SUCCEEDED");
});
