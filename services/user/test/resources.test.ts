import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CardBrand } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { sql } from "kysely";
import { startUserHarness, type TestAccount, type UserHarness } from "./harness.ts";

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof RpcError, String(err));
    return err;
  }
  assert.fail("expected the call to fail");
}

const postal = (city: string) => ({
  fullName: "Grace Hopper",
  line1: "1 Main St",
  city,
  postalCode: "10001",
  countryCode: "US",
});

describe("addresses, saved cards and wishlist", { timeout: 60_000 }, () => {
  let h: UserHarness;
  let user: TestAccount;
  before(async () => {
    h = await startUserHarness();
    user = await h.register();
  });
  after(async () => {
    await h?.close();
  });

  test("the first address is the default; make_default moves it; exactly one default always", async () => {
    const opts = { metadata: user.auth };
    const home = await h.client.addAddress(
      { userId: user.id, address: { label: "Home", postalAddress: postal("NYC") } },
      opts,
    );
    assert.equal(home.address?.isDefault, true);
    const work = await h.client.addAddress(
      { userId: user.id, address: { label: "Work", postalAddress: postal("Boston") } },
      opts,
    );
    assert.equal(work.address?.isDefault, false);
    const cabin = await h.client.addAddress(
      {
        userId: user.id,
        address: { label: "Cabin", postalAddress: postal("Denver") },
        makeDefault: true,
      },
      opts,
    );
    assert.equal(cabin.address?.isDefault, true);

    let list = await h.client.listAddresses({ userId: user.id }, opts);
    assert.deepEqual(
      list.addresses.map((a) => a.label),
      ["Cabin", "Work", "Home"],
      "default first, then newest",
    );
    assert.equal(list.addresses.filter((a) => a.isDefault).length, 1);

    const moved = await h.client.setDefaultAddress(
      { userId: user.id, addressId: home.address?.id ?? "" },
      opts,
    );
    assert.deepEqual(
      moved.addresses.filter((a) => a.isDefault).map((a) => a.label),
      ["Home"],
    );

    // Deleting the default promotes the most recently added remaining address.
    await h.client.deleteAddress({ userId: user.id, addressId: home.address?.id ?? "" }, opts);
    list = await h.client.listAddresses({ userId: user.id }, opts);
    assert.deepEqual(
      list.addresses.map((a) => [a.label, a.isDefault]),
      [
        ["Cabin", true],
        ["Work", false],
      ],
    );

    const updated = await h.client.updateAddress(
      {
        userId: user.id,
        addressId: work.address?.id ?? "",
        address: { label: "Office" },
        updateMask: { paths: ["label"] },
      },
      opts,
    );
    assert.equal(updated.address?.label, "Office");
    assert.equal(updated.address?.postalAddress?.city, "Boston");

    // The database itself refuses a second default.
    await assert.rejects(
      h.db
        .updateTable("addresses")
        .set({ is_default: true })
        .where("user_id", "=", user.id)
        .execute(),
      /addresses_one_default/,
    );
    const missing = await failure(
      h.client.getAddress(
        { userId: user.id, addressId: "0190a000-0000-7000-8000-000000000000" },
        opts,
      ),
    );
    assert.equal(missing.code, Code.NOT_FOUND);
  });

  test("concurrent make_default adds still leave exactly one default", async () => {
    const other = await h.register();
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        h.client.addAddress(
          {
            userId: other.id,
            address: { label: `A${i}`, postalAddress: postal(`City ${i}`) },
            makeDefault: true,
          },
          { metadata: other.auth },
        ),
      ),
    );
    const list = await h.client.listAddresses({ userId: other.id }, { metadata: other.auth });
    assert.equal(list.addresses.length, 6);
    assert.equal(list.addresses.filter((a) => a.isDefault).length, 1);
  });

  test("saved cards keep the gateway's brand/last4/expiry and never a card number", async () => {
    const opts = { metadata: user.auth };
    h.cards.set("tok_visa_4242abcd", {
      $typeName: "shopmesh.common.v1.CardSummary",
      brand: CardBrand.VISA,
      last4: "4242",
      expMonth: 12,
      expYear: 2099,
    });
    h.cards.set("tok_mc_4444abcd", {
      $typeName: "shopmesh.common.v1.CardSummary",
      brand: CardBrand.MASTERCARD,
      last4: "4444",
      expMonth: 1,
      expYear: 2098,
    });
    h.cards.set("tok_expired_0001", {
      $typeName: "shopmesh.common.v1.CardSummary",
      brand: CardBrand.VISA,
      last4: "0001",
      expMonth: 1,
      expYear: 2020,
    });

    const visa = await h.client.addPaymentMethod(
      { userId: user.id, gatewayToken: "tok_visa_4242abcd" },
      opts,
    );
    assert.equal(visa.paymentMethod?.card?.brand, CardBrand.VISA);
    assert.equal(visa.paymentMethod?.card?.last4, "4242");
    assert.equal(visa.paymentMethod?.isDefault, true);
    const mc = await h.client.addPaymentMethod(
      { userId: user.id, gatewayToken: "tok_mc_4444abcd", makeDefault: true },
      opts,
    );
    assert.equal(mc.paymentMethod?.isDefault, true);

    const unknown = await failure(
      h.client.addPaymentMethod({ userId: user.id, gatewayToken: "tok_unknown_x" }, opts),
    );
    assert.equal(unknown.code, Code.INVALID_ARGUMENT);
    assert.equal(unknown.violations[0]?.field, "gateway_token");
    const expired = await failure(
      h.client.addPaymentMethod({ userId: user.id, gatewayToken: "tok_expired_0001" }, opts),
    );
    assert.equal(expired.code, Code.FAILED_PRECONDITION);
    const dup = await failure(
      h.client.addPaymentMethod({ userId: user.id, gatewayToken: "tok_visa_4242abcd" }, opts),
    );
    assert.equal(dup.code, Code.ALREADY_EXISTS);

    const listed = await h.client.listPaymentMethods({ userId: user.id }, opts);
    assert.deepEqual(
      listed.paymentMethods.map((m) => [m.card?.last4, m.isDefault]),
      [
        ["4444", true],
        ["4242", false],
      ],
    );

    // No column of any saved card holds anything that looks like a card number.
    const { rows } = await sql<Record<string, unknown>>`SELECT * FROM payment_methods`.execute(
      h.db,
    );
    for (const { id: _id, user_id: _userId, ...row } of rows) {
      for (const value of Object.values(row)) assert.doesNotMatch(String(value), /\d{12,19}/);
    }
    const columns = await sql<{
      column_name: string;
    }>`SELECT column_name FROM information_schema.columns WHERE table_name = 'payment_methods'`.execute(
      h.db,
    );
    assert.deepEqual(columns.rows.map((c) => c.column_name).sort(), [
      "brand",
      "created_at",
      "exp_month",
      "exp_year",
      "gateway_token",
      "id",
      "is_default",
      "last4",
      "user_id",
    ]);

    const token = await h.client.getPaymentMethodToken(
      { userId: user.id, paymentMethodId: mc.paymentMethod?.id ?? "" },
      opts,
    );
    assert.equal(token.gatewayToken, "tok_mc_4444abcd");
    await h.client.deletePaymentMethod(
      { userId: user.id, paymentMethodId: mc.paymentMethod?.id ?? "" },
      opts,
    );
    const after = await h.client.listPaymentMethods({ userId: user.id }, opts);
    assert.deepEqual(
      after.paymentMethods.map((m) => [m.card?.last4, m.isDefault]),
      [["4242", true]],
    );
  });

  test("wishlist adds idempotently (keeping added_at), lists newest first, removes idempotently", async () => {
    const opts = { metadata: user.auth };
    const p1 = "0190a000-0000-7000-8000-0000000000a1";
    const p2 = "0190a000-0000-7000-8000-0000000000a2";
    const first = await h.client.addWishlistItem({ userId: user.id, productId: p1 }, opts);
    const addedAt = first.items[0]?.addedAt?.seconds;
    await new Promise((r) => setTimeout(r, 20));
    await h.client.addWishlistItem(
      { userId: user.id, productId: p2, variantId: "0190a000-0000-7000-8000-0000000000b2" },
      opts,
    );
    const again = await h.client.addWishlistItem({ userId: user.id, productId: p1 }, opts);
    assert.deepEqual(
      again.items.map((i) => i.productId),
      [p2, p1],
    );
    assert.equal(again.items[1]?.addedAt?.seconds, addedAt);
    assert.equal(again.items[0]?.variantId, "0190a000-0000-7000-8000-0000000000b2");
    const removed = await h.client.removeWishlistItem({ userId: user.id, productId: p2 }, opts);
    assert.deepEqual(
      removed.items.map((i) => i.productId),
      [p1],
    );
    const twice = await h.client.removeWishlistItem({ userId: user.id, productId: p2 }, opts);
    assert.deepEqual(
      twice.items.map((i) => i.productId),
      [p1],
    );
    assert.deepEqual(
      (await h.client.getWishlist({ userId: user.id }, opts)).items.map((i) => i.productId),
      [p1],
    );
  });
});
