import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ServiceError } from "@shopmesh/platform/errors";
import {
  type Account,
  assertMaySignIn,
  assertRoleChangeAllowed,
  assertStatusChangeAllowed,
  canonicalRoles,
  normalizeEmail,
  profileChanges,
} from "./account.ts";
import { cardExpired } from "./limits.ts";

const now = new Date("2030-06-15T00:00:00Z");
const account: Account = {
  id: "u1",
  email: "a@example.test",
  name: "Ann",
  phone: "+4712345678",
  emailVerified: true,
  roles: ["customer"],
  status: "active",
  lockedUntil: null,
};
const precondition = (e: unknown) =>
  e instanceof ServiceError && e.code === Code.FAILED_PRECONDITION;

test("emails are trimmed and lower-cased", () => {
  assert.equal(normalizeEmail("  Ann@Example.TEST "), "ann@example.test");
});

test("profile changes: an empty mask writes non-empty fields, an explicit mask can clear the phone", () => {
  assert.deepEqual(profileChanges(account, { name: "Anne", phone: "" }, []), { name: "Anne" });
  assert.deepEqual(profileChanges(account, { name: "", phone: "" }, ["phone"]), { phone: "" });
  assert.deepEqual(profileChanges(account, { name: "Ann", phone: "+4712345678" }, []), {});
});

test("suspended accounts and unexpired locks may not sign in; an expired lock may", () => {
  assert.throws(() => assertMaySignIn({ ...account, status: "suspended" }, now), precondition);
  const lockedUntil = new Date(now.getTime() + 1000);
  assert.throws(
    () => assertMaySignIn({ ...account, status: "locked", lockedUntil }, now),
    precondition,
  );
  assertMaySignIn({ ...account, status: "locked", lockedUntil: new Date(now.getTime() - 1) }, now);
});

test("an admin cannot remove their own admin role or suspend themself", () => {
  assert.throws(() => assertRoleChangeAllowed("a1", "a1", ["customer"]), precondition);
  assertRoleChangeAllowed("a1", "u2", ["customer"]);
  assert.throws(() => assertStatusChangeAllowed("a1", "a1", "suspended"), precondition);
  assert.deepEqual(canonicalRoles(["admin", "customer", "admin"]), ["customer", "admin"]);
});

test("a card expires after the end of its expiry month", () => {
  assert.equal(cardExpired(6, 2030, now), false);
  assert.equal(cardExpired(5, 2030, now), true);
  assert.equal(cardExpired(1, 2031, now), false);
});
