import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkVerificationCode,
  hashToken,
  hashVerificationCode,
  newOpaqueToken,
  newVerificationCode,
} from "./one-time-secrets.ts";

const now = new Date("2030-01-01T00:00:00Z");
const later = new Date(now.getTime() + 60_000);

test("codes are six digits and tokens 43 URL-safe characters", () => {
  for (let i = 0; i < 200; i++) assert.match(newVerificationCode(), /^[0-9]{6}$/);
  assert.match(newOpaqueToken(), /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(newOpaqueToken(), newOpaqueToken());
});

test("a code hash is bound to its user", () => {
  assert.notDeepEqual(hashVerificationCode("u1", "123456"), hashVerificationCode("u2", "123456"));
  assert.deepEqual(hashToken("t"), hashToken("t"));
});

test("the right unexpired code is accepted, a wrong one counted, the fifth wrong one burns it", () => {
  const codeHash = hashVerificationCode("u1", "123456");
  const pending = { codeHash, expiresAt: later, failedAttempts: 0 };
  assert.deepEqual(checkVerificationCode(pending, codeHash, now), { result: "accepted" });
  const wrong = hashVerificationCode("u1", "654321");
  assert.deepEqual(checkVerificationCode(pending, wrong, now), { result: "wrong", burnt: false });
  assert.deepEqual(checkVerificationCode({ ...pending, failedAttempts: 4 }, wrong, now), {
    result: "wrong",
    burnt: true,
  });
  assert.deepEqual(checkVerificationCode({ ...pending, failedAttempts: 5 }, codeHash, now), {
    result: "none",
  });
});

test("an expired code or no code is refused even when it matches", () => {
  const codeHash = hashVerificationCode("u1", "123456");
  assert.deepEqual(
    checkVerificationCode({ codeHash, expiresAt: now, failedAttempts: 0 }, codeHash, now),
    { result: "expired" },
  );
  assert.deepEqual(checkVerificationCode(undefined, codeHash, now), { result: "none" });
});
