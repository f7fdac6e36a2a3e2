import assert from "node:assert/strict";
import { test } from "node:test";
import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { DeclineCode } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { behaviourOf, brandOf, isExpired, passesLuhn, TEST_CARDS } from "./test-cards.ts";

test("every listed test card passes the Luhn check, and a changed digit fails it", () => {
  for (const number of Object.keys(TEST_CARDS)) assert.ok(passesLuhn(number), number);
  assert.equal(passesLuhn("4242424242424241"), false);
  assert.equal(passesLuhn("42424242x4242424"), false);
});

test("maps Stripe's numbers to their outcomes and any other valid number to success", () => {
  assert.deepEqual(behaviourOf("4000000000000002"), {
    kind: "decline",
    code: DeclineCode.CARD_DECLINED,
  });
  assert.deepEqual(behaviourOf("4000000000009995"), {
    kind: "decline",
    code: DeclineCode.INSUFFICIENT_FUNDS,
  });
  assert.deepEqual(behaviourOf("4000000000007700"), { kind: "hang" });
  assert.deepEqual(behaviourOf("4000000000005126"), { kind: "refund_fails" });
  assert.deepEqual(behaviourOf("4111111111111111"), { kind: "succeed" });
});

test("recognises card networks by prefix", () => {
  assert.equal(brandOf("4242424242424242"), CardBrand.VISA);
  assert.equal(brandOf("5555555555554444"), CardBrand.MASTERCARD);
  assert.equal(brandOf("2223003122003222"), CardBrand.MASTERCARD);
  assert.equal(brandOf("378282246310005"), CardBrand.AMEX);
  assert.equal(brandOf("6011111111111117"), CardBrand.DISCOVER);
  assert.equal(brandOf("3566002020360505"), CardBrand.JCB);
  assert.equal(brandOf("36227206271667"), CardBrand.DINERS);
  assert.equal(brandOf("6200000000000005"), CardBrand.UNIONPAY);
  assert.equal(brandOf("9999999999999995"), CardBrand.OTHER);
});

test("a card is valid through the last day of its expiry month", () => {
  const now = new Date("2030-06-15T00:00:00Z");
  assert.equal(isExpired(6, 2030, now), false);
  assert.equal(isExpired(5, 2030, now), true);
  assert.equal(isExpired(1, 2031, now), false);
  assert.equal(isExpired(12, 2029, now), true);
});
