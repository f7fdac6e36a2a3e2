import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  addItem,
  CartRuleError,
  clearCart,
  emptyCart,
  itemCount,
  LineNotFoundError,
  MAX_LINES,
  removeItem,
  removeOrdered,
  updateItem,
  type VariantInfo,
} from "./cart.ts";

const now = new Date("2026-01-01T00:00:00Z");
const variant = (
  id: string,
  price = 100,
  currencyCode = "USD",
  purchasable = true,
): VariantInfo => ({
  variantId: id,
  productId: `p-${id}`,
  sku: `SKU-${id}`,
  name: `Product ${id}`,
  variantAttributes: {},
  imageUrl: "",
  unitPrice: { currencyCode, amountMinor: price },
  purchasable,
});

describe("cart rules", () => {
  test("adding a variant twice grows its line and bumps the version each time", () => {
    const once = addItem(emptyCart("u"), variant("a"), 2, now);
    const twice = addItem(once, variant("a"), 3, now);
    assert.equal(twice.items.length, 1);
    assert.equal(twice.items[0]!.quantity, 5);
    assert.equal(twice.version, 2);
    assert.equal(itemCount(twice), 5);
  });

  test("refuses unpurchasable variants, 1000 units, a second currency and a 101st line", () => {
    assert.throws(
      () => addItem(emptyCart("u"), variant("x", 1, "USD", false), 1, now),
      CartRuleError,
    );
    const full = addItem(emptyCart("u"), variant("a"), 999, now);
    assert.throws(() => addItem(full, variant("a"), 1, now), /more than 999/);
    assert.throws(
      () => addItem(full, variant("e", 1, "EUR"), 1, now),
      /priced in EUR, the cart in USD/,
    );
    let cart = emptyCart("u");
    for (let i = 0; i < MAX_LINES; i++) cart = addItem(cart, variant(`v${i}`), 1, now);
    assert.throws(() => addItem(cart, variant("one-more"), 1, now), /100 lines/);
  });

  test("update sets a quantity, 0 removes, an absent line is LineNotFoundError", () => {
    const cart = addItem(emptyCart("u"), variant("a"), 2, now);
    assert.equal(updateItem(cart, "a", 7, now).items[0]!.quantity, 7);
    assert.equal(updateItem(cart, "a", 0, now).items.length, 0);
    assert.throws(() => updateItem(cart, "zzz", 1, now), LineNotFoundError);
  });

  test("removing an absent line and clearing an empty cart change nothing", () => {
    const cart = addItem(emptyCart("u"), variant("a"), 2, now);
    assert.equal(removeItem(cart, "zzz", now), cart);
    assert.equal(clearCart(emptyCart("u"), now).version, 0);
    assert.equal(clearCart(cart, now).items.length, 0);
  });

  test("an order removes only what it bought: later lines and extra units stay", () => {
    let cart = addItem(emptyCart("u"), variant("a"), 2, now);
    cart = addItem(cart, variant("b"), 1, now);
    const ordered = [
      { variantId: "a", quantity: 2 },
      { variantId: "b", quantity: 1 },
    ];
    assert.equal(removeOrdered(cart, ordered, now).items.length, 0, "an unchanged cart is emptied");
    const changed = addItem(addItem(cart, variant("a"), 1, now), variant("c"), 4, now);
    const left = removeOrdered(changed, ordered, now);
    assert.deepEqual(
      left.items.map((l) => [l.variantId, l.quantity]),
      [
        ["a", 1],
        ["c", 4],
      ],
    );
    assert.equal(removeOrdered(left, [{ variantId: "zzz", quantity: 1 }], now), left);
  });
});
