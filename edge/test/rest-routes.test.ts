import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { closeClients } from "@shopmesh/platform/grpc-client";
import { type FakeShop, KNOWN_PRODUCT_ID, startFakeShop } from "./fixtures/fake-shop.ts";
import { startTestEdge, type TestEdge } from "./fixtures/test-edge.ts";

const ALICE = "0190c5d2-7a3e-7b1c-9f00-00000000a11c";
const BOB = "0190c5d2-7a3e-7b1c-9f00-000000000b0b";
const VARIANT = "0190c5d2-7a3e-7b1c-9f00-0000000000a1";

let shop: FakeShop;
let edge: TestEdge;
let alice: string;
let admin: string;

before(async () => {
  shop = await startFakeShop();
  edge = await startTestEdge({ address: shop.address, tokens: shop.tokens });
  alice = await shop.tokens.sign({ sub: ALICE });
  admin = await shop.tokens.sign({ sub: BOB, roles: ["customer", "admin"] });
});
after(async () => {
  await edge?.close();
  await shop?.close();
  closeClients();
});

interface ErrorBody {
  code: string;
  message: string;
  details: { field: string; description: string }[];
}

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${edge.url}${path}`, {
    method,
    headers,
    ...(options.body !== undefined
      ? { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) }
      : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

describe("REST/JSON transcoding through the edge", { timeout: 30_000 }, () => {
  it("answers GET /api/v1/products/{product_id} with the product in proto JSON", async () => {
    const res = await call("GET", `/api/v1/products/${KNOWN_PRODUCT_ID}`);
    assert.equal(res.status, 200);
    assert.equal(res.json.product.id, KNOWN_PRODUCT_ID);
    assert.equal(res.json.product.variants[0].price.amountMinor, "12999", "int64 is a string");
  });

  it("maps nested and repeated query parameters onto the request message", async () => {
    const res = await call(
      "GET",
      "/api/v1/products?page.page_size=5&brands=acme&brands=zeta&sort=PRODUCT_SORT_NAME",
    );
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const received = shop.calls.findLast((c) => c.method === "ListProducts")!.request as {
      page: { pageSize: number };
      brands: string[];
      sort: number;
    };
    assert.equal(received.page.pageSize, 5);
    assert.deepEqual(received.brands, ["acme", "zeta"]);
    assert.notEqual(received.sort, 0);
  });

  it("puts a named body field and the path variable into the request (PUT additional binding)", async () => {
    const res = await call("PUT", `/api/v1/products/${KNOWN_PRODUCT_ID}`, {
      token: admin,
      body: { name: "Renamed" },
    });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.product.id, KNOWN_PRODUCT_ID);
    assert.equal(res.json.product.name, "Renamed");
  });

  it("answers 201 for a create, with body '*' merged with the path's user_id", async () => {
    const res = await call("POST", `/api/v1/cart/${ALICE}/items`, {
      token: alice,
      body: { variantId: VARIANT, quantity: 2 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.equal(res.json.cart.userId, ALICE);
    assert.equal(res.json.cart.items[0].quantity, 2);
  });

  it("forwards the bearer token unchanged and the request id as correlation id", async () => {
    const res = await call("GET", `/api/v1/cart/${ALICE}`, {
      token: alice,
      headers: { "x-request-id": "req-12345" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-request-id"), "req-12345");
    const received = shop.calls.findLast((c) => c.method === "GetCart")!;
    assert.equal(received.authorization, `Bearer ${alice}`);
    assert.equal(received.correlationId, "req-12345");
  });
});

describe("auth at the edge", { timeout: 30_000 }, () => {
  it("answers 401 without a token on a protected route, before reaching the service", async () => {
    const before = shop.calls.length;
    const res = await call("GET", `/api/v1/cart/${ALICE}`);
    assert.equal(res.status, 401);
    assert.equal((res.json as ErrorBody).code, "unauthenticated");
    assert.equal(shop.calls.length, before);
  });

  it("answers 401 for a malformed or forged token", async () => {
    assert.equal((await call("GET", `/api/v1/cart/${ALICE}`, { token: "not.a.jwt" })).status, 401);
    const expired = await shop.tokens.sign({ sub: ALICE, expiresIn: "-5m" });
    assert.equal((await call("GET", `/api/v1/cart/${ALICE}`, { token: expired })).status, 401);
  });

  it("answers 403 for someone else's {user_id}, in the path and in a body", async () => {
    const res = await call("GET", `/api/v1/cart/${BOB}`, { token: alice });
    assert.equal(res.status, 403);
    assert.equal((res.json as ErrorBody).code, "permission_denied");
    const view = await call("POST", `/api/v1/products/${KNOWN_PRODUCT_ID}/views`, {
      token: alice,
      body: { userId: BOB, sessionId: "s1" },
    });
    assert.equal(view.status, 403);
  });

  it("lets an admin act on another user's resources", async () => {
    const res = await call("GET", `/api/v1/cart/${ALICE}`, { token: admin });
    assert.equal(res.status, 200);
  });

  it("refuses a customer on admin routes (under /admin/ and catalog writes)", async () => {
    assert.equal((await call("GET", "/api/v1/admin/orders", { token: alice })).status, 403);
    assert.equal((await call("GET", "/api/v1/admin/orders")).status, 401);
    assert.equal((await call("GET", "/api/v1/admin/orders", { token: admin })).status, 200);
    const create = await call("POST", "/api/v1/products", { token: alice, body: { name: "X" } });
    assert.equal(create.status, 403);
  });

  it("serves public routes without a token", async () => {
    assert.equal((await call("GET", `/api/v1/products/${KNOWN_PRODUCT_ID}`)).status, 200);
    const login = await call("POST", "/api/v1/auth/login", {
      body: { email: "a@example.com", password: "wrong-password-1" },
    });
    assert.equal(login.status, 401, "the service's own UNAUTHENTICATED, not the edge's");
    assert.equal(login.json.message, "wrong email or password");
  });
});

describe("errors as JSON with the one status table", { timeout: 30_000 }, () => {
  it("answers 400 naming the field for a protovalidate violation in the path", async () => {
    const res = await call("GET", "/api/v1/products/not-a-uuid");
    assert.equal(res.status, 400);
    const body = res.json as ErrorBody;
    assert.equal(body.code, "invalid_argument");
    assert.equal(body.details[0]!.field, "product_id");
  });

  it("passes a service's field violations through from grpc-status-details-bin", async () => {
    const res = await call("POST", "/api/v1/products", {
      token: admin,
      body: { name: "Boot", slug: "boot", brand: "bad" },
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json.details, [
      { field: "product.brand", description: "brand is not allowed" },
    ]);
  });

  it("answers 400 naming an unknown body field, a wrong type and a bad enum", async () => {
    const unknown = await call("POST", `/api/v1/cart/${ALICE}/items`, {
      token: alice,
      body: { variantId: VARIANT, quantity: 1, colour: "red" },
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.json.details[0].field, "colour");
    const wrongType = await call("POST", `/api/v1/cart/${ALICE}/items`, {
      token: alice,
      body: { variantId: VARIANT, quantity: "many" },
    });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.json.details[0].field, "quantity");
    const badEnum = await call("GET", "/api/v1/products?sort=SIDEWAYS");
    assert.equal(badEnum.status, 400);
    assert.equal(badEnum.json.details[0].field, "sort");
    const unknownQuery = await call("GET", "/api/v1/products?colour=red");
    assert.equal(unknownQuery.status, 400);
    assert.equal(unknownQuery.json.details[0].field, "colour");
  });

  it("answers 400 for malformed JSON", async () => {
    const res = await call("POST", `/api/v1/cart/${ALICE}/items`, { token: alice, body: "{oops" });
    assert.equal(res.status, 400);
    assert.equal(res.json.details[0].field, "body");
  });

  it("maps NOT_FOUND 404, ALREADY_EXISTS 409, FAILED_PRECONDITION 409, UNIMPLEMENTED 501", async () => {
    const missing = await call("GET", "/api/v1/products/0190c5d2-7a3e-7b1c-9f00-00000000dead");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, "not_found");
    const taken = await call("POST", "/api/v1/products", {
      token: admin,
      body: { name: "A", slug: "taken" },
    });
    assert.equal(taken.status, 409, JSON.stringify(taken.json));
    assert.equal(taken.status, 409);
    assert.equal(taken.json.code, "already_exists");
    const precondition = await call("DELETE", `/api/v1/products/${KNOWN_PRODUCT_ID}`, {
      token: admin,
    });
    assert.equal(precondition.status, 409);
    assert.equal(precondition.json.code, "failed_precondition");
    const unimplemented = await call("GET", "/api/v1/categories");
    assert.equal(unimplemented.status, 501);
  });

  it("answers 404 for an unknown path and 405 with Allow for a wrong verb", async () => {
    const res = await call("GET", "/api/v1/nothing-here");
    assert.equal(res.status, 404);
    assert.equal(res.json.code, "not_found");
    const wrongVerb = await call("PATCH", `/api/v1/cart/${ALICE}`, { token: alice });
    assert.equal(wrongVerb.status, 405);
    assert.match(wrongVerb.headers.get("allow") ?? "", /GET/);
  });
});
