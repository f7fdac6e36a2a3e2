import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  UserProfileUpdatedSchema,
  UserRegisteredSchema,
} from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import { Role, UserStatus } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { createJwtAuthenticator, jwksFromUserService } from "@shopmesh/platform/auth";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { sql } from "kysely";
import { bearer, startUserHarness, type UserHarness } from "./harness.ts";

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err;
  }
  assert.fail("expected the call to fail");
}

describe("register, verify, sign in, refresh, sign out", { timeout: 60_000 }, () => {
  let h: UserHarness;
  before(async () => {
    h = await startUserHarness();
  });
  after(async () => {
    await h?.close();
  });

  test("register creates an unverified customer, signs it in and publishes user.registered", async () => {
    const account = await h.register({ name: "Ada Lovelace" });
    const profile = await h.client.getProfile({ userId: account.id }, { metadata: account.auth });
    assert.equal(profile.user?.email, account.email);
    assert.equal(profile.user?.emailVerified, false);
    assert.deepEqual(profile.user?.roles, [Role.CUSTOMER]);
    assert.equal(profile.user?.status, UserStatus.ACTIVE);
    const [registered] = await h.events(account.id, "user.registered", UserRegisteredSchema);
    assert.equal(registered?.email, account.email);
    assert.equal(registered?.name, "Ada Lovelace");
    assert.equal(registered?.emailVerified, false);
    const row = await h.db
      .selectFrom("users")
      .select("password_hash")
      .where("id", "=", account.id)
      .executeTakeFirstOrThrow();
    assert.match(row.password_hash, /^scrypt\$32768\$8\$1\$/);
    assert.ok(!row.password_hash.includes(account.password));
  });

  test("a second registration with the same email (any case) is ALREADY_EXISTS", async () => {
    const account = await h.register();
    const err = await failure(h.register({ email: account.email.toUpperCase() }));
    assert.equal(err.code, Code.ALREADY_EXISTS);
  });

  test("verification code: wrong rejected, expired rejected, right one verifies once", async () => {
    const account = await h.register();
    const code = await h.verificationCode(account.id);
    assert.match(code, /^[0-9]{6}$/);
    const stored = await h.db
      .selectFrom("email_verification_codes")
      .selectAll()
      .where("user_id", "=", account.id)
      .executeTakeFirstOrThrow();
    assert.notEqual(Buffer.from(stored.code_hash).toString("utf8"), code, "only a hash is stored");

    const wrong = code === "000000" ? "000001" : "000000";
    const wrongErr = await failure(h.client.verifyEmail({ email: account.email, code: wrong }));
    assert.equal(wrongErr.code, Code.INVALID_ARGUMENT);
    assert.equal(wrongErr.violations[0]?.field, "code");

    await h.db
      .updateTable("email_verification_codes")
      .set({ expires_at: sql<Date>`now() - interval '1 second'` })
      .where("user_id", "=", account.id)
      .execute();
    const expired = await failure(h.client.verifyEmail({ email: account.email, code }));
    assert.equal(expired.code, Code.INVALID_ARGUMENT);
    assert.match(expired.message, /expired/);

    await h.client.resendVerification({ email: account.email });
    const fresh = await h.verificationCode(account.id);
    const verified = await h.client.verifyEmail({ email: account.email, code: fresh });
    assert.equal(verified.user?.emailVerified, true);
    const updates = await h.events(account.id, "user.profile_updated", UserProfileUpdatedSchema);
    assert.deepEqual(updates.at(-1)?.changedFields, ["email_verified"]);
    assert.equal(updates.at(-1)?.emailVerified, true);
    // The code is single use.
    assert.equal(
      (await failure(h.client.verifyEmail({ email: account.email, code: fresh }))).code,
      Code.INVALID_ARGUMENT,
    );
  });

  test("five wrong codes burn the code, so even the right one then fails", async () => {
    const account = await h.register();
    const code = await h.verificationCode(account.id);
    const wrong = code === "111111" ? "222222" : "111111";
    for (let i = 0; i < 5; i++)
      await failure(h.client.verifyEmail({ email: account.email, code: wrong }));
    const err = await failure(h.client.verifyEmail({ email: account.email, code }));
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    assert.match(err.message, /request a new code/);
  });

  test("login issues an access token that verifies against GetJwks with the right claims", async () => {
    const account = await h.register();
    const session = await h.login(account.email, account.password);
    const authenticate = createJwtAuthenticator({ jwks: jwksFromUserService(h.client) });
    const principal = await authenticate(bearer(session.accessToken), "/test");
    assert.equal(principal?.subject, account.id);
    assert.deepEqual(principal?.roles, ["customer"]);
    assert.equal(principal?.claims?.email_verified, false);
    const header = JSON.parse(
      Buffer.from(session.accessToken.split(".")[0] ?? "", "base64url").toString(),
    );
    assert.equal(header.alg, "EdDSA");
    const jwks = await h.client.getJwks({});
    assert.equal(jwks.keys[0]?.kid, header.kid);
    assert.equal(jwks.keys[0]?.kty, "OKP");
    assert.equal(jwks.keys[0]?.crv, "Ed25519");
    const key = await h.db.selectFrom("signing_keys").selectAll().executeTakeFirstOrThrow();
    assert.equal(key.private_key_encryption, "aes-256-gcm");
    assert.ok(!key.private_key.includes("PRIVATE KEY"), "the private key is encrypted at rest");
  });

  test("a wrong password and an unknown email get the same UNAUTHENTICATED answer", async () => {
    const account = await h.register();
    const wrong = await failure(
      h.client.login(
        { email: account.email, password: "not the password" },
        { metadata: { "x-forwarded-for": "198.51.100.1" } },
      ),
    );
    const unknown = await failure(
      h.client.login(
        { email: `nobody-${account.email}`, password: "not the password" },
        { metadata: { "x-forwarded-for": "198.51.100.1" } },
      ),
    );
    assert.equal(wrong.code, Code.UNAUTHENTICATED);
    assert.equal(unknown.code, Code.UNAUTHENTICATED);
    assert.equal(wrong.message, unknown.message);
  });

  test("refresh rotates: the old refresh token stops working and its reuse revokes the session", async () => {
    const account = await h.register();
    const first = await h.client.refresh({ refreshToken: account.refreshToken });
    const second = first.tokens?.refreshToken ?? "";
    assert.notEqual(second, account.refreshToken);
    assert.ok(first.tokens?.accessToken);

    const replay = await failure(h.client.refresh({ refreshToken: account.refreshToken }));
    assert.equal(replay.code, Code.UNAUTHENTICATED);
    assert.match(replay.message, /already used/);
    // The replay revoked the whole family, including the newest token.
    const afterReplay = await failure(h.client.refresh({ refreshToken: second }));
    assert.equal(afterReplay.code, Code.UNAUTHENTICATED);
    const stored = await h.db.selectFrom("refresh_tokens").select("token_hash").execute();
    const all = stored.map((r) => Buffer.from(r.token_hash).toString("base64url"));
    assert.ok(!all.includes(second), "refresh tokens are stored hashed");
  });

  test("public RPCs ignore a stale or garbage access token sent along (refresh still works)", async () => {
    const account = await h.register();
    const refreshed = await h.client.refresh(
      { refreshToken: account.refreshToken },
      { metadata: bearer("expired.or.garbage") },
    );
    assert.ok(refreshed.tokens?.accessToken);
    await h.login(account.email, account.password);
    const protectedCall = await failure(
      h.client.getProfile({ userId: account.id }, { metadata: bearer("expired.or.garbage") }),
    );
    assert.equal(protectedCall.code, Code.UNAUTHENTICATED);
  });

  test("logout revokes the session; all_sessions revokes every session of the user", async () => {
    const account = await h.register();
    const other = await h.login(account.email, account.password);
    await h.client.logout({ refreshToken: account.refreshToken });
    assert.equal(
      (await failure(h.client.refresh({ refreshToken: account.refreshToken }))).code,
      Code.UNAUTHENTICATED,
    );
    const rotated = await h.client.refresh({ refreshToken: other.refreshToken });
    await h.client.logout({ refreshToken: rotated.tokens?.refreshToken ?? "", allSessions: true });
    const third = await h.login(account.email, account.password);
    await h.client.logout({ refreshToken: third.refreshToken, allSessions: true });
    assert.equal(
      (await failure(h.client.refresh({ refreshToken: third.refreshToken }))).code,
      Code.UNAUTHENTICATED,
    );
    // Idempotent: an unknown or already revoked token answers OK.
    await h.client.logout({ refreshToken: third.refreshToken });
    await h.client.logout({ refreshToken: "x".repeat(43) });
  });
});
