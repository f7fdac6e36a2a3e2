import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FailedPreconditionError } from "@shopmesh/platform/errors";
import {
  adjustOnHand,
  findShortages,
  judgeAvailability,
  type Stock,
  stockCrossings,
} from "./stock.ts";

function stock(onHand: number, reserved = 0, committed = 0, lowStockThreshold = 5): Stock {
  return {
    variantId: "v1",
    onHand,
    reserved,
    committed,
    lowStockThreshold,
    discontinued: false,
    updatedAt: new Date(0),
  };
}

describe("stock rules", () => {
  it("finds every short line, counting unknown and discontinued variants as zero", () => {
    const byVariant = new Map([
      ["a", { ...stock(10, 3, 2), variantId: "a" }],
      ["b", { ...stock(10), variantId: "b", discontinued: true }],
    ]);
    const shortages = findShortages(
      [
        { variantId: "a", quantity: 5 },
        { variantId: "a2", quantity: 1 },
        { variantId: "b", quantity: 1 },
      ],
      byVariant,
    );
    assert.deepEqual(shortages, [
      { variantId: "a2", requested: 1, available: 0 },
      { variantId: "b", requested: 1, available: 0 },
    ]);
    assert.deepEqual(findShortages([{ variantId: "a", quantity: 6 }], byVariant), [
      { variantId: "a", requested: 6, available: 5 },
    ]);
  });

  it("judges availability against the low-stock threshold", () => {
    assert.equal(judgeAvailability(undefined, 1), "UNKNOWN");
    assert.equal(judgeAvailability(stock(0), 1), "OUT_OF_STOCK");
    assert.equal(judgeAvailability(stock(3), 4), "INSUFFICIENT");
    assert.equal(judgeAvailability(stock(20), 2), "IN_STOCK");
    assert.equal(judgeAvailability(stock(6), 2), "LOW_STOCK");
    assert.equal(judgeAvailability(stock(6, 0, 0, 0), 2), "IN_STOCK");
  });

  it("reports each threshold crossing once", () => {
    assert.deepEqual(stockCrossings(stock(10), stock(10, 5)), ["low_stock"]);
    assert.deepEqual(stockCrossings(stock(10, 5), stock(10, 6)), []);
    assert.deepEqual(stockCrossings(stock(10, 6), stock(10, 10)), ["out_of_stock"]);
    assert.deepEqual(stockCrossings(stock(10), stock(10, 10)), ["out_of_stock"]);
    assert.deepEqual(stockCrossings(stock(10, 10), stock(10, 9)), ["back_in_stock", "low_stock"]);
    assert.deepEqual(stockCrossings(stock(0), stock(50)), ["back_in_stock"]);
    assert.deepEqual(stockCrossings(stock(50), stock(60)), []);
  });

  it("adjusts on_hand by a delta or to a count, never below what is held", () => {
    assert.deepEqual(adjustOnHand(stock(10, 2, 3), { delta: -5 }), {
      onHandBefore: 10,
      onHandAfter: 5,
      delta: -5,
    });
    assert.deepEqual(adjustOnHand(stock(10), { setOnHand: 4 }), {
      onHandBefore: 10,
      onHandAfter: 4,
      delta: -6,
    });
    assert.throws(() => adjustOnHand(stock(10, 2, 3), { delta: -6 }), FailedPreconditionError);
    assert.throws(() => adjustOnHand(stock(3), { delta: -4 }), FailedPreconditionError);
  });
});
