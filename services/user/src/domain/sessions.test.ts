import assert from "node:assert/strict";
import { test } from "node:test";
import { decideRefresh } from "./sessions.ts";

const now = new Date("2030-01-01T00:00:00Z");
const live = {
  sessionId: "s1",
  userId: "u1",
  usedAt: null,
  sessionExpiresAt: new Date(now.getTime() + 1000),
  sessionRevokedAt: null,
};

test("an unused token of a live session rotates", () => {
  assert.deepEqual(decideRefresh(live, now), { action: "rotate" });
});

test("a token used before is a replay and revokes the session", () => {
  assert.deepEqual(decideRefresh({ ...live, usedAt: now }, now), {
    action: "revoke-session",
    reason: "replay",
  });
});

test("unknown, revoked and expired tokens are rejected", () => {
  assert.deepEqual(decideRefresh(undefined, now), { action: "reject", reason: "unknown" });
  assert.deepEqual(decideRefresh({ ...live, sessionRevokedAt: now }, now), {
    action: "reject",
    reason: "revoked",
  });
  assert.deepEqual(decideRefresh({ ...live, sessionExpiresAt: now }, now), {
    action: "reject",
    reason: "expired",
  });
});
