import assert from "node:assert/strict";
import { test } from "node:test";
import { clientAddress, loginVerdict } from "./login-throttle.ts";

const limits = { maxFailuresPerEmail: 5, maxFailuresPerAddress: 20, windowMs: 900_000 };
const now = new Date("2030-01-01T00:15:00Z");

test("allows a login while neither key reached its limit", () => {
  assert.deepEqual(
    loginVerdict({ limitingFailureAt: undefined }, { limitingFailureAt: undefined }, limits, now),
    { allowed: true },
  );
});

test("blocks until the limiting failure leaves the window, naming the scope", () => {
  const at = new Date(now.getTime() - 600_000);
  assert.deepEqual(
    loginVerdict({ limitingFailureAt: at }, { limitingFailureAt: undefined }, limits, now),
    {
      allowed: false,
      retryAfterSeconds: 300,
      scope: "email",
    },
  );
  const verdict = loginVerdict(
    { limitingFailureAt: undefined },
    { limitingFailureAt: at },
    limits,
    now,
  );
  assert.equal(verdict.allowed ? "" : verdict.scope, "address");
});

test("allows again once the limiting failure is older than the window", () => {
  const old = new Date(now.getTime() - 900_001);
  assert.deepEqual(
    loginVerdict({ limitingFailureAt: old }, { limitingFailureAt: old }, limits, now),
    { allowed: true },
  );
});

test("the client address is the last x-forwarded-for hop, else the peer without its port", () => {
  assert.equal(clientAddress("1.1.1.1, 10.0.0.7", "ipv4:10.0.0.2:5000"), "10.0.0.7");
  assert.equal(clientAddress(undefined, "ipv4:127.0.0.1:53012"), "127.0.0.1");
  assert.equal(clientAddress(undefined, "ipv6:[::1]:53012"), "::1");
  assert.equal(clientAddress("", "ipv4:192.0.2.9:1"), "192.0.2.9");
});
