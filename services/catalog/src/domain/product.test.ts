import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FailedPreconditionError } from "@shopmesh/platform/errors";
import {
  applyProductUpdate,
  applyVariantUpdate,
  assertNotLastVariant,
  assertSameCurrency,
  type ProductRecord,
  priceRange,
  type VariantRecord,
} from "./product.ts";

const t0 = new Date("2030-01-01T00:00:00Z");
const t1 = new Date("2030-01-02T00:00:00Z");

const product: ProductRecord = {
  id: "p1",
  name: "Lamp",
  slug: "lamp",
  description: "A lamp",
  brand: "Lumo",
  categoryIds: [],
  tags: ["home"],
  specifications: [],
  attributes: {},
  images: [],
  active: true,
  ratingAverage: 0,
  ratingCount: 0,
  createdAt: t0,
  updatedAt: t0,
};

function variant(
  id: string,
  priceMinor: bigint,
  active = true,
  currencyCode = "USD",
): VariantRecord {
  return {
    id,
    productId: "p1",
    sku: `SKU-${id}`,
    attributes: {},
    currencyCode,
    priceMinor,
    compareAtPriceMinor: null,
    weightGrams: 100,
    images: [],
    active,
    createdAt: t0,
    updatedAt: t0,
  };
}

describe("product updates", () => {
  const patch = { ...product, name: "Desk lamp", description: "", tags: [], active: false };

  it("without a mask writes only non-empty fields", () => {
    const { product: next, changed } = applyProductUpdate(product, patch, [], t1);
    assert.deepEqual(changed, ["name"]);
    assert.equal(next.description, "A lamp");
    assert.equal(next.active, true);
    assert.equal(next.updatedAt, t1);
  });

  it("with a mask can clear fields and deactivate", () => {
    const { product: next, changed } = applyProductUpdate(
      product,
      patch,
      ["tags", "active", "brand"],
      t1,
    );
    assert.deepEqual(changed, ["tags", "active"]);
    assert.deepEqual(next.tags, []);
    assert.equal(next.active, false);
  });

  it("an update that changes nothing keeps updated_at, whatever the attribute key order", () => {
    const stored = { ...product, attributes: { b: "2", a: "1" } };
    const { changed, product: next } = applyProductUpdate(
      stored,
      { ...stored, attributes: { a: "1", b: "2" } },
      ["name", "attributes"],
      t1,
    );
    assert.deepEqual(changed, []);
    assert.equal(next.updatedAt, t0);
  });
});

describe("variant rules", () => {
  it("updates the price and keeps compare_at_price above it", () => {
    const v = { ...variant("a", 1000n), compareAtPriceMinor: 1500n };
    const base = {
      sku: "",
      attributes: {},
      compareAtPrice: undefined,
      weightGrams: 0,
      images: [],
      active: false,
    };
    const { variant: next, changed } = applyVariantUpdate(
      v,
      { ...base, price: { currencyCode: "USD", amountMinor: 1200n } },
      [],
      t1,
    );
    assert.equal(next.priceMinor, 1200n);
    assert.deepEqual(changed, ["price"]);
    assert.throws(
      () =>
        applyVariantUpdate(
          v,
          { ...base, price: { currencyCode: "USD", amountMinor: 1600n } },
          ["price"],
          t1,
        ),
      FailedPreconditionError,
    );
  });

  it("computes the price range over active variants only", () => {
    assert.deepEqual(
      priceRange([variant("a", 500n), variant("b", 300n), variant("c", 100n, false)]),
      {
        currencyCode: "USD",
        min: 300n,
        max: 500n,
      },
    );
    assert.equal(priceRange([variant("c", 100n, false)]), undefined);
  });

  it("refuses mixed currencies and deleting the last variant", () => {
    assert.throws(() => assertSameCurrency([variant("a", 1n)], "EUR"), FailedPreconditionError);
    assertSameCurrency([variant("a", 1n)], "USD");
    assert.throws(() => assertNotLastVariant([variant("a", 1n)], "a"), FailedPreconditionError);
    assertNotLastVariant([variant("a", 1n), variant("b", 1n)], "a");
  });
});
