import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeShop, KNOWN_PRODUCT_ID, startFakeShop } from "./fixtures/fake-shop.ts";
import { startTestEdge, type TestEdge } from "./fixtures/test-edge.ts";

let shop: FakeShop;
let edge: TestEdge;

before(async () => {
  shop = await startFakeShop();
  edge = await startTestEdge({ address: shop.address, tokens: shop.tokens });
});
after(async () => {
  await edge?.close();
  await shop?.close();
});

describe("REST/JSON transcoding through the edge", { timeout: 30_000 }, () => {
  it("answers GET /api/v1/products/{product_id} with the product in proto JSON", async () => {
    const res = await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { product: Record<string, unknown> };
    assert.equal(body.product.id, KNOWN_PRODUCT_ID);
    const variants = body.product.variants as { price: { amountMinor: string } }[];
    assert.equal(variants[0]!.price.amountMinor, "12999", "int64 is a string in proto JSON");
  });
});
