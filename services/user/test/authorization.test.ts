import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import { UserProfileUpdatedSchema } from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import { Role, UserStatus } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { createTestTokens } from "@shopmesh/platform/testing/test-tokens";
import {
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  startUserHarness,
  type TestAccount,
  type UserHarness,
} from "./harness.ts";

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err;
  }
  assert.fail("expected the call to fail");
}

const postal = {
  fullName: "B",
  line1: "2 Side St",
  city: "Oslo",
  postalCode: "0150",
  countryCode: "NO",
};

describe("authorization and input validation", { timeout: 60_000 }, () => {
  let h: UserHarness;
  let alice: TestAccount;
  let bob: TestAccount;
  let admin: TestAccount;
  let bobAddressId: string;
  before(async () => {
    h = await startUserHarness();
    alice = await h.register({ name: "Alice" });
    bob = await h.register({ name: "Bob" });
    admin = await h.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const added = await h.client.addAddress(
      { userId: bob.id, address: { postalAddress: postal } },
      { metadata: bob.auth },
    );
    bobAddressId = added.address?.id ?? "";
  });
  after(async () => {
    await h?.close();
  });

  test("a user's token cannot read or change another user's data (PERMISSION_DENIED)", async () => {
    const as = { metadata: alice.auth };
    const product = "0190a000-0000-7000-8000-0000000000a1";
    const attempts: [string, () => Promise<unknown>][] = [
      ["getProfile", () => h.client.getProfile({ userId: bob.id }, as)],
      [
        "updateProfile",
        () => h.client.updateProfile({ userId: bob.id, user: { name: "Mallory" } }, as),
      ],
      [
        "changePassword",
        () =>
          h.client.changePassword(
            { userId: bob.id, currentPassword: "x", newPassword: "12345678" },
            as,
          ),
      ],
      ["listAddresses", () => h.client.listAddresses({ userId: bob.id }, as)],
      ["getAddress", () => h.client.getAddress({ userId: bob.id, addressId: bobAddressId }, as)],
      [
        "addAddress",
        () => h.client.addAddress({ userId: bob.id, address: { postalAddress: postal } }, as),
      ],
      [
        "deleteAddress",
        () => h.client.deleteAddress({ userId: bob.id, addressId: bobAddressId }, as),
      ],
      [
        "setDefaultAddress",
        () => h.client.setDefaultAddress({ userId: bob.id, addressId: bobAddressId }, as),
      ],
      ["listPaymentMethods", () => h.client.listPaymentMethods({ userId: bob.id }, as)],
      [
        "addPaymentMethod",
        () => h.client.addPaymentMethod({ userId: bob.id, gatewayToken: "tok_whatever" }, as),
      ],
      [
        "getPaymentMethodToken",
        () => h.client.getPaymentMethodToken({ userId: bob.id, paymentMethodId: bobAddressId }, as),
      ],
      ["getWishlist", () => h.client.getWishlist({ userId: bob.id }, as)],
      [
        "addWishlistItem",
        () => h.client.addWishlistItem({ userId: bob.id, productId: product }, as),
      ],
      [
        "removeWishlistItem",
        () => h.client.removeWishlistItem({ userId: bob.id, productId: product }, as),
      ],
    ];
    for (const [name, call] of attempts) {
      assert.equal((await failure(call())).code, Code.PERMISSION_DENIED, name);
    }
    // Nothing changed for Bob.
    const profile = await h.client.getProfile({ userId: bob.id }, { metadata: bob.auth });
    assert.equal(profile.user?.name, "Bob");
    assert.equal(
      (await h.client.listAddresses({ userId: bob.id }, { metadata: bob.auth })).addresses.length,
      1,
    );
  });

  test("no token is UNAUTHENTICATED; malformed, forged or expired tokens are UNAUTHENTICATED", async () => {
    assert.equal(
      (await failure(h.client.getProfile({ userId: alice.id }))).code,
      Code.UNAUTHENTICATED,
    );
    const malformed = new Metadata();
    malformed.set("authorization", "Bearer not.a.jwt");
    assert.equal(
      (await failure(h.client.getProfile({ userId: alice.id }, { metadata: malformed }))).code,
      Code.UNAUTHENTICATED,
    );
    // A token signed by another key, even naming the real kid, is refused.
    const kid = (await h.client.getJwks({})).keys[0]?.kid ?? "";
    const forger = await createTestTokens(kid);
    const forged = await forger.sign({ sub: alice.id, roles: ["customer", "admin"] });
    assert.equal(
      (await failure(h.client.getUser({ userId: alice.id }, { metadata: forger.bearer(forged) })))
        .code,
      Code.UNAUTHENTICATED,
    );
    const expired = await forger.sign({
      sub: alice.id,
      expiresIn: Math.floor(Date.now() / 1000) - 60,
    });
    assert.equal(
      (
        await failure(
          h.client.getProfile({ userId: alice.id }, { metadata: forger.bearer(expired) }),
        )
      ).code,
      Code.UNAUTHENTICATED,
    );
  });

  test("customer tokens on admin RPCs are PERMISSION_DENIED; the admin may use them", async () => {
    const as = { metadata: alice.auth };
    for (const call of [
      () => h.client.getUser({ userId: bob.id }, as),
      () => h.client.listUsers({}, as),
      () => h.client.setUserRoles({ userId: alice.id, roles: [Role.CUSTOMER, Role.ADMIN] }, as),
      () =>
        h.client.setUserStatus({ userId: bob.id, status: UserStatus.SUSPENDED, reason: "x" }, as),
    ]) {
      assert.equal((await failure(call())).code, Code.PERMISSION_DENIED);
    }
    const byAdmin = { metadata: admin.auth };
    assert.equal((await h.client.getUser({ userId: bob.id }, byAdmin)).user?.name, "Bob");
    assert.equal(
      (await h.client.getProfile({ userId: bob.id }, byAdmin)).user?.name,
      "Bob",
      "admins may act on any user",
    );
    const found = await h.client.listUsers({ query: "ali" }, byAdmin);
    assert.deepEqual(
      found.users.map((u) => u.id),
      [alice.id],
    );
    const admins = await h.client.listUsers({ role: Role.ADMIN }, byAdmin);
    assert.deepEqual(
      admins.users.map((u) => u.email),
      [ADMIN_EMAIL],
    );
  });

  test("ListUsers pages newest first with an opaque token", async () => {
    const byAdmin = { metadata: admin.auth };
    const first = await h.client.listUsers({ page: { pageSize: 2 } }, byAdmin);
    assert.equal(first.users.length, 2);
    assert.ok(first.page?.nextPageToken);
    const second = await h.client.listUsers(
      { page: { pageSize: 2, pageToken: first.page?.nextPageToken ?? "" } },
      byAdmin,
    );
    const ids = [...first.users, ...second.users].map((u) => u.id);
    assert.equal(new Set(ids).size, ids.length, "pages do not overlap");
    assert.deepEqual(ids, [...ids].sort().reverse());
    const bad = await failure(h.client.listUsers({ page: { pageToken: "garbage" } }, byAdmin));
    assert.equal(bad.code, Code.INVALID_ARGUMENT);
  });

  test("admin role and status changes take effect and publish user.profile_updated", async () => {
    const byAdmin = { metadata: admin.auth };
    const carol = await h.register({ name: "Carol" });
    const promoted = await h.client.setUserRoles(
      { userId: carol.id, roles: [Role.CUSTOMER, Role.ADMIN] },
      byAdmin,
    );
    assert.deepEqual(promoted.user?.roles, [Role.CUSTOMER, Role.ADMIN]);
    const refreshed = await h.client.refresh({ refreshToken: carol.refreshToken });
    const asCarolAdmin = new Metadata();
    asCarolAdmin.set("authorization", `Bearer ${refreshed.tokens?.accessToken}`);
    await h.client.getUser({ userId: bob.id }, { metadata: asCarolAdmin });

    const suspended = await h.client.setUserStatus(
      { userId: carol.id, status: UserStatus.SUSPENDED, reason: "chargebacks" },
      byAdmin,
    );
    assert.equal(suspended.user?.status, UserStatus.SUSPENDED);
    assert.equal(
      (await failure(h.client.login({ email: carol.email, password: carol.password }))).code,
      Code.FAILED_PRECONDITION,
    );
    assert.equal(
      (await failure(h.client.refresh({ refreshToken: refreshed.tokens?.refreshToken ?? "" })))
        .code,
      Code.UNAUTHENTICATED,
    );
    const updates = await h.events(carol.id, "user.profile_updated", UserProfileUpdatedSchema);
    assert.deepEqual(
      updates.map((u) => u.changedFields.join()),
      ["roles", "status"],
    );
    assert.equal(updates.at(-1)?.status, UserStatus.SUSPENDED);

    const selfDemote = await failure(
      h.client.setUserRoles({ userId: admin.id, roles: [Role.CUSTOMER] }, byAdmin),
    );
    assert.equal(selfDemote.code, Code.FAILED_PRECONDITION);
    const locked = await failure(
      h.client.setUserStatus({ userId: bob.id, status: UserStatus.LOCKED, reason: "x" }, byAdmin),
    );
    assert.equal(locked.code, Code.INVALID_ARGUMENT);
  });

  test("bad input is INVALID_ARGUMENT naming the field", async () => {
    const cases: [string, () => Promise<unknown>][] = [
      [
        "email",
        () => h.client.register({ email: "not-an-email", password: "long enough pw", name: "X" }),
      ],
      [
        "password",
        () => h.client.register({ email: "ok@example.test", password: "short", name: "X" }),
      ],
      [
        "name",
        () =>
          h.client.register({
            email: "ok@example.test",
            password: "long enough pw",
            name: "N".repeat(201),
          }),
      ],
      [
        "phone",
        () =>
          h.client.register({
            email: "ok@example.test",
            password: "long enough pw",
            name: "X",
            phone: "555",
          }),
      ],
      ["code", () => h.client.verifyEmail({ email: alice.email, code: "12ab" })],
      ["user_id", () => h.client.getProfile({ userId: "not-a-uuid" }, { metadata: alice.auth })],
      [
        "user.name",
        () =>
          h.client.updateProfile(
            { userId: alice.id, user: { name: "N".repeat(201) } },
            { metadata: alice.auth },
          ),
      ],
      [
        "address.postal_address.country_code",
        () =>
          h.client.addAddress(
            { userId: alice.id, address: { postalAddress: { ...postal, countryCode: "norway" } } },
            { metadata: alice.auth },
          ),
      ],
      [
        "address.label",
        () =>
          h.client.addAddress(
            { userId: alice.id, address: { label: "L".repeat(51), postalAddress: postal } },
            { metadata: alice.auth },
          ),
      ],
      [
        "gateway_token",
        () =>
          h.client.addPaymentMethod(
            { userId: alice.id, gatewayToken: "4242 4242 4242 4242" },
            { metadata: alice.auth },
          ),
      ],
      ["new_password", () => h.client.resetPassword({ token: "a".repeat(43), newPassword: "x" })],
    ];
    for (const [field, call] of cases) {
      const err = await failure(call());
      assert.equal(err.code, Code.INVALID_ARGUMENT, field);
      assert.ok(
        err.violations.some((v) => v.field === field),
        `${field}: ${JSON.stringify(err.violations)}`,
      );
    }
  });
});
