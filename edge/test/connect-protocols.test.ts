import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { closeClients } from "@shopmesh/platform/grpc-client";
import { Code, ConnectError, createShopmeshClient } from "../sdk/index.ts";
import { type FakeShop, KNOWN_PRODUCT_ID, startFakeShop } from "./fixtures/fake-shop.ts";
import { startTestEdge, type TestEdge } from "./fixtures/test-edge.ts";

const ALICE = "0190c5d2-7a3e-7b1c-9f00-00000000a11c";
const BOB = "0190c5d2-7a3e-7b1c-9f00-000000000b0b";

let shop: FakeShop;
let edge: TestEdge;

before(async () => {
  shop = await startFakeShop();
  edge = await startTestEdge({ address: shop.address, tokens: shop.tokens });
});
after(async () => {
  await edge?.close();
  await shop?.close();
  closeClients();
});

async function connectError(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  assert.fail("expected the call to fail");
}

describe("Connect and gRPC-Web through the edge", { timeout: 30_000 }, () => {
  it("serves a Connect (JSON) call through the SDK", async () => {
    const shopClient = createShopmeshClient({ baseUrl: edge.url });
    const { product } = await shopClient.catalog.getProduct({ productId: KNOWN_PRODUCT_ID });
    assert.equal(product?.name, "Trail Shoe");
    assert.equal(product?.variants[0]?.price?.amountMinor, 12999n);
  });

  it("serves a gRPC-Web call with the caller's token forwarded", async () => {
    const token = await shop.tokens.sign({ sub: ALICE });
    const shopClient = createShopmeshClient({ baseUrl: edge.url, protocol: "grpc-web", token });
    const { cart } = await shopClient.cart.addItem({
      userId: ALICE,
      variantId: "0190c5d2-7a3e-7b1c-9f00-0000000000a1",
      quantity: 3,
    });
    assert.equal(cart?.itemCount, 3);
    assert.equal(
      shop.calls.findLast((c) => c.method === "AddItem")?.authorization,
      `Bearer ${token}`,
    );
  });

  it("applies the same access policy as REST", async () => {
    const anonymous = createShopmeshClient({ baseUrl: edge.url });
    assert.equal(
      (await connectError(anonymous.cart.getCart({ userId: ALICE }))).code,
      Code.Unauthenticated,
    );
    const alice = createShopmeshClient({
      baseUrl: edge.url,
      token: await shop.tokens.sign({ sub: ALICE }),
    });
    assert.equal(
      (await connectError(alice.cart.getCart({ userId: BOB }))).code,
      Code.PermissionDenied,
    );
    assert.equal(
      (await connectError(alice.catalog.createProduct({ product: { name: "X" } }))).code,
      Code.PermissionDenied,
    );
  });

  it("keeps the service's code and field violations", async () => {
    const admin = createShopmeshClient({
      baseUrl: edge.url,
      token: await shop.tokens.sign({ sub: BOB, roles: ["customer", "admin"] }),
    });
    const err = await connectError(
      admin.catalog.createProduct({ product: { name: "Boot", slug: "boot", brand: "bad" } }),
    );
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(err.details.length, 1);
    assert.equal((err.details[0] as { type: string }).type, "google.rpc.BadRequest");
    const missing = await connectError(
      admin.catalog.getProduct({ productId: "0190c5d2-7a3e-7b1c-9f00-00000000dead" }),
    );
    assert.equal(missing.code, Code.NotFound);
  });

  it("does not expose internal RPCs", async () => {
    const res = await fetch(`${edge.url}/shopmesh.catalog.v1.CatalogService/BatchGetProducts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ productIds: [KNOWN_PRODUCT_ID] }),
    });
    assert.equal(res.status, 404);
    const internal = createShopmeshClient({ baseUrl: edge.url });
    const err = await connectError(
      internal.catalog.batchGetProducts({ productIds: [KNOWN_PRODUCT_ID] }),
    );
    assert.notEqual(err.code, Code.Unknown);
    assert.ok(!shop.calls.some((c) => c.method === "BatchGetProducts"));
  });
});
