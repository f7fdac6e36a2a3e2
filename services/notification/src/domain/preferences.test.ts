import assert from "node:assert/strict";
import { test } from "node:test";
import {
  NotificationChannel as C,
  NotificationType as T,
} from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { applyPreferencesPatch, defaultPreferences, wants } from "./preferences.ts";

const at = new Date("2030-01-01T00:00:00Z");

test("by default every type goes out by e-mail only", () => {
  const p = defaultPreferences("u1");
  assert.ok(wants(p, T.ORDER_PLACED, C.EMAIL));
  assert.ok(!wants(p, T.ORDER_PLACED, C.SMS));
  assert.equal(p.updatedAt, undefined);
});

test("a patch changes only the listed types and keeps channels unless given", () => {
  const p = applyPreferencesPatch(
    defaultPreferences("u1"),
    { types: [{ type: T.ORDER_PLACED, enabled: false }] },
    at,
  );
  assert.ok(!wants(p, T.ORDER_PLACED, C.EMAIL));
  assert.ok(wants(p, T.ORDER_CONFIRMED, C.EMAIL));
  const back = applyPreferencesPatch(p, { types: [{ type: T.ORDER_PLACED, enabled: true }] }, at);
  assert.ok(wants(back, T.ORDER_PLACED, C.EMAIL));
  const quiet = applyPreferencesPatch(p, { types: [], channels: [] }, at);
  assert.ok(!wants(quiet, T.ORDER_CONFIRMED, C.EMAIL));
});

test("security types go out by e-mail whatever the preferences say", () => {
  const p = applyPreferencesPatch(
    defaultPreferences("u1"),
    { types: [{ type: T.PASSWORD_RESET, enabled: false }], channels: [] },
    at,
  );
  assert.deepEqual(p.disabledTypes, []);
  assert.ok(wants(p, T.PASSWORD_RESET, C.EMAIL));
  assert.ok(wants(p, T.EMAIL_VERIFICATION, C.EMAIL));
  assert.ok(wants(p, T.ACCOUNT_CHANGED, C.EMAIL));
  assert.ok(!wants(p, T.PASSWORD_RESET, C.SMS));
});
