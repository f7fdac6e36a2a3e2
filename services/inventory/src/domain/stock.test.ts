import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FailedPreconditionError } from "@shopmesh/platform/errors";
import {
  adjustOnHand,
  available,
  crossesNoBoundary,
  findShortages,
  judgeAvailability,
  type Stock,
  stockCrossings,
  withCounts,
} from "./stock.ts";

const now = new Date("2030-01-01T00:00:00Z");

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

  it("a change it calls clear of boundaries never crosses one, for every small count and threshold", () => {
    let clear = 0;
    for (let threshold = 0; threshold <= 4; threshold++) {
      for (let onHand = 0; onHand <= 8; onHand++) {
        for (let held = 0; held <= onHand; held++) {
          const before = stock(onHand, held, 0, threshold);
          for (let delta = -available(before); delta <= 8; delta++) {
            if (!crossesNoBoundary(before, delta)) continue;
            clear++;
            // Move available by `delta` through reserved, as a hold (delta < 0) or return does.
            const after = withCounts(before, { onHand: 0, reserved: -delta, committed: 0 }, now);
            if (after.reserved < 0) continue;
            assert.deepEqual(stockCrossings(before, after), [], JSON.stringify({ before, delta }));
          }
        }
      }
    }
    assert.ok(clear > 100, "the rule lets the common changes through");
  });

  it("calls holds that keep more than the threshold and returns from above zero clear", () => {
    assert.equal(crossesNoBoundary(stock(10, 0, 0, 5), -4), true);
    assert.equal(crossesNoBoundary(stock(10, 0, 0, 5), -5), false, "lands on the threshold");
    assert.equal(crossesNoBoundary(stock(3, 0, 0, 0), -3), false, "reaches zero");
    assert.equal(crossesNoBoundary(stock(3, 0, 0, 0), -2), true);
    assert.equal(crossesNoBoundary(stock(10, 10), 2), false, "back from zero");
    assert.equal(crossesNoBoundary(stock(10, 9), 1), true);
    assert.equal(crossesNoBoundary(stock(10, 10), 0), true, "available unchanged (commit, ship)");
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
