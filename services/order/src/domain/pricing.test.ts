import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  computeTotals,
  PricingError,
  priceLines,
  totalWeightGrams,
  type VariantSnapshot,
} from "./pricing.ts";
import { computeTax, taxRuleFor } from "./tax.ts";

const usd = (amountMinor: number) => ({ currencyCode: "USD", amountMinor });
const variant = (
  id: string,
  price: number,
  extra: Partial<VariantSnapshot> = {},
): VariantSnapshot => ({
  variantId: id,
  productId: `p-${id}`,
  sku: `SKU-${id}`,
  name: `Product ${id}`,
  variantAttributes: { size: "M" },
  imageUrl: "",
  unitPrice: usd(price),
  weightGrams: 200,
  purchasable: true,
  ...extra,
});

describe("pricing from catalog snapshots", () => {
  const catalog = new Map([
    ["a", variant("a", 1999)],
    ["b", variant("b", 500, { weightGrams: 1000 })],
    ["off", variant("off", 100, { purchasable: false })],
    ["eur", variant("eur", 100, { unitPrice: { currencyCode: "EUR", amountMinor: 100 } })],
  ]);

  test("prices each line from the snapshot, ignoring anything the client claimed", () => {
    const items = priceLines(
      [
        { variantId: "a", quantity: 3 },
        { variantId: "b", quantity: 1 },
      ],
      catalog,
      "USD",
    );
    assert.deepEqual(
      items.map((i) => i.lineTotal.amountMinor),
      [5997, 500],
    );
    assert.equal(items[0]!.sku, "SKU-a");
    assert.equal(totalWeightGrams(items), 1600);
  });

  test("refuses unknown, unpurchasable and foreign-currency variants, naming the line", () => {
    assert.throws(
      () => priceLines([{ variantId: "zzz", quantity: 1 }], catalog, "USD"),
      (e: unknown) => e instanceof PricingError && /items\[0\].*does not exist/.test(e.message),
    );
    assert.throws(
      () =>
        priceLines(
          [
            { variantId: "a", quantity: 1 },
            { variantId: "off", quantity: 1 },
          ],
          catalog,
          "USD",
        ),
      /items\[1\].*not purchasable/,
    );
    assert.throws(
      () => priceLines([{ variantId: "eur", quantity: 1 }], catalog, "USD"),
      /priced in EUR, not USD/,
    );
  });

  test("total = subtotal + shipping + tax - discount, with tax from the destination", () => {
    const items = priceLines([{ variantId: "a", quantity: 2 }], catalog, "USD");
    const totals = computeTotals(items, usd(599), taxRuleFor("US", "tx"));
    assert.equal(totals.subtotal.amountMinor, 3998);
    assert.equal(totals.tax.amountMinor, 250); // 3998 * 6.25% = 249.875 -> 250
    assert.equal(totals.discount.amountMinor, 0);
    assert.equal(totals.total.amountMinor, 3998 + 599 + 250);
  });

  test("a discount is capped at the subtotal and never negative", () => {
    const items = priceLines([{ variantId: "b", quantity: 1 }], catalog, "USD");
    assert.equal(computeTotals(items, usd(0), taxRuleFor("XX"), 9_999).discount.amountMinor, 500);
    assert.equal(computeTotals(items, usd(0), taxRuleFor("XX"), -5).discount.amountMinor, 0);
  });
});

describe("tax table", () => {
  test("a region rule wins over its country, and unknown places are untaxed", () => {
    assert.equal(taxRuleFor("US", "CA").rateBps, 725);
    assert.equal(taxRuleFor("US", "OR").rateBps, 0);
    assert.equal(taxRuleFor("DE").rateBps, 1900);
    assert.equal(taxRuleFor("ZZ").rateBps, 0);
  });

  test("VAT countries tax shipping, US sales tax does not", () => {
    assert.equal(computeTax(usd(10_000), usd(1_000), usd(0), taxRuleFor("DE")).amountMinor, 2090);
    assert.equal(
      computeTax(usd(10_000), usd(1_000), usd(0), taxRuleFor("US", "NY")).amountMinor,
      400,
    );
  });

  test("tax is computed after the discount and rounded half up", () => {
    assert.equal(computeTax(usd(1_000), usd(0), usd(500), taxRuleFor("FR")).amountMinor, 100);
    assert.equal(computeTax(usd(10), usd(0), usd(0), taxRuleFor("US", "CA")).amountMinor, 1); // 0.725 -> 1
  });
});
