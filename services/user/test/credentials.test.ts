import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { UserProfileUpdatedSchema } from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import { UserStatus } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { sql } from "kysely";
import { startUserHarness, type UserHarness, uniqueEmail } from "./harness.ts";

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err;
  }
  assert.fail("expected the call to fail");
}

describe("password reset, password change and login throttling", { timeout: 60_000 }, () => {
  let h: UserHarness;
  before(async () => {
    h = await startUserHarness({
      LOGIN_MAX_FAILURES_PER_EMAIL: "3",
      LOGIN_MAX_FAILURES_PER_IP: "6",
    });
  });
  after(async () => {
    await h?.close();
  });

  test("password reset: the emailed token sets a new password once and ends every session", async () => {
    const account = await h.register();
    await h.client.requestPasswordReset({ email: account.email });
    const token = await h.resetToken(account.id);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const rows = await h.db
      .selectFrom("password_reset_tokens")
      .select("token_hash")
      .where("user_id", "=", account.id)
      .execute();
    assert.equal(rows.length, 1);
    assert.notEqual(
      Buffer.from(rows[0]?.token_hash ?? []).toString("utf8"),
      token,
      "stored hashed",
    );

    await h.client.resetPassword({ token, newPassword: "a brand new password" });
    assert.equal(
      (await failure(h.client.refresh({ refreshToken: account.refreshToken }))).code,
      Code.UNAUTHENTICATED,
      "reset revokes refresh tokens",
    );
    assert.equal(
      (await failure(h.client.login({ email: account.email, password: account.password }))).code,
      Code.UNAUTHENTICATED,
    );
    await h.login(account.email, "a brand new password");
    const reused = await failure(
      h.client.resetPassword({ token, newPassword: "yet another password" }),
    );
    assert.equal(reused.code, Code.INVALID_ARGUMENT);
    assert.equal(reused.violations[0]?.field, "token");
    const updates = await h.events(account.id, "user.profile_updated", UserProfileUpdatedSchema);
    assert.deepEqual(updates.at(-1)?.changedFields, ["password"]);
  });

  test("an expired reset token is rejected, and unknown emails get the same OK without an event", async () => {
    const account = await h.register();
    await h.client.requestPasswordReset({ email: account.email });
    const token = await h.resetToken(account.id);
    await h.db
      .updateTable("password_reset_tokens")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("user_id", "=", account.id)
      .execute();
    const err = await failure(h.client.resetPassword({ token, newPassword: "another password" }));
    assert.equal(err.code, Code.INVALID_ARGUMENT);

    const before = await h.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("event_type", "=", "user.password_reset_requested")
      .executeTakeFirstOrThrow();
    await h.client.requestPasswordReset({ email: uniqueEmail("ghost") });
    const after = await h.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .where("event_type", "=", "user.password_reset_requested")
      .executeTakeFirstOrThrow();
    assert.equal(after.n, before.n);
  });

  test("change password needs the current one, revokes other sessions and returns a new one", async () => {
    const account = await h.register();
    const wrong = await failure(
      h.client.changePassword(
        { userId: account.id, currentPassword: "nope", newPassword: "new password 1" },
        { metadata: account.auth },
      ),
    );
    assert.equal(wrong.code, Code.UNAUTHENTICATED);
    const changed = await h.client.changePassword(
      { userId: account.id, currentPassword: account.password, newPassword: "new password 1" },
      { metadata: account.auth },
    );
    assert.ok(changed.tokens?.refreshToken);
    assert.equal(
      (await failure(h.client.refresh({ refreshToken: account.refreshToken }))).code,
      Code.UNAUTHENTICATED,
    );
    await h.client.refresh({ refreshToken: changed.tokens?.refreshToken ?? "" });
    await h.login(account.email, "new password 1");
  });

  test("after N failures for an email, login is RESOURCE_EXHAUSTED even with the right password", async () => {
    const account = await h.register();
    const address = "203.0.113.10";
    for (let i = 0; i < 3; i++) {
      const err = await failure(
        h.client.login(
          { email: account.email, password: "bad guess" },
          { metadata: { "x-forwarded-for": address } },
        ),
      );
      assert.equal(err.code, Code.UNAUTHENTICATED);
    }
    const locked = await failure(
      h.client.login(
        { email: account.email, password: account.password },
        { metadata: { "x-forwarded-for": "203.0.113.11" } },
      ),
    );
    assert.equal(locked.code, Code.RESOURCE_EXHAUSTED);
    assert.match(locked.message, /try again in \d+ s/);
    const status = await h.db
      .selectFrom("users")
      .select(["status", "locked_until"])
      .where("id", "=", account.id)
      .executeTakeFirstOrThrow();
    assert.equal(status.status, "locked");

    // An unknown email throttles identically, so the lock reveals nothing.
    const ghost = uniqueEmail("ghost");
    for (let i = 0; i < 3; i++)
      await failure(
        h.client.login(
          { email: ghost, password: "bad guess" },
          { metadata: { "x-forwarded-for": "203.0.113.12" } },
        ),
      );
    const ghostLocked = await failure(
      h.client.login(
        { email: ghost, password: "bad guess" },
        { metadata: { "x-forwarded-for": "203.0.113.13" } },
      ),
    );
    assert.equal(ghostLocked.code, Code.RESOURCE_EXHAUSTED);
    const withoutSeconds = (m: string) => m.replace(/\d+ s/, "N s");
    assert.equal(withoutSeconds(ghostLocked.message), withoutSeconds(locked.message));

    // When the window has passed, the right password works again and unlocks the account.
    await h.db
      .updateTable("auth_attempts")
      .set({ at: sql<Date>`now() - interval '1 hour'` })
      .where("key", "=", account.email)
      .execute();
    await h.db
      .updateTable("users")
      .set({ locked_until: sql<Date>`now() - interval '1 second'` })
      .where("id", "=", account.id)
      .execute();
    const session = await h.login(account.email, account.password, "203.0.113.14");
    assert.equal(session.id, account.id);
    const profile = await h.client.getProfile({ userId: account.id }, { metadata: session.auth });
    assert.equal(profile.user?.status, UserStatus.ACTIVE);
  });

  test("after N failures from one address, that address is throttled across emails", async () => {
    const address = "203.0.113.50";
    for (let i = 0; i < 6; i++) {
      await failure(
        h.client.login(
          { email: uniqueEmail("spray"), password: "bad guess" },
          { metadata: { "x-forwarded-for": address } },
        ),
      );
    }
    const account = await h.register();
    const err = await failure(
      h.client.login(
        { email: account.email, password: account.password },
        { metadata: { "x-forwarded-for": address } },
      ),
    );
    assert.equal(err.code, Code.RESOURCE_EXHAUSTED);
    assert.match(err.message, /address/);
    // Another address is unaffected.
    await h.login(account.email, account.password, "203.0.113.51");
  });
});
