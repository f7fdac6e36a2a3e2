import assert from "node:assert/strict";
import { test } from "node:test";
import { checkDigit, isWellFormedTrackingNumber, newTrackingNumber } from "./tracking-number.ts";

test("the check digit is the Luhn digit", () => {
  // 7992739871 is the classic Luhn example, with check digit 3.
  assert.equal(checkDigit("7992739871"), 3);
});

test("new tracking numbers carry the prefix and validate; a changed digit does not", () => {
  for (let i = 0; i < 50; i++) {
    const n = newTrackingNumber("MS");
    assert.match(n, /^MS\d{11}$/);
    assert.ok(isWellFormedTrackingNumber(n), n);
    const last = Number(n.at(-1));
    assert.equal(isWellFormedTrackingNumber(`${n.slice(0, -1)}${(last + 1) % 10}`), false);
  }
});
