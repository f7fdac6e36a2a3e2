import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { after, before, describe, it } from "node:test";
import { closeClients } from "@shopmesh/platform/grpc-client";
import { type FakeShop, KNOWN_PRODUCT_ID, startFakeShop } from "./fixtures/fake-shop.ts";
import { startTestEdge, type TestEdge } from "./fixtures/test-edge.ts";

const REQUESTS = 3_000;
const CONCURRENCY = 16;
const ALICE = "0190c5d2-7a3e-7b1c-9f00-00000000a11c";
const VARIANT = "0190c5d2-7a3e-7b1c-9f00-0000000000a1";

let shop: FakeShop;
let edge: TestEdge;
let alice: string;
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

before(async () => {
  shop = await startFakeShop();
  edge = await startTestEdge({
    address: shop.address,
    tokens: shop.tokens,
    maxBodyBytes: 16 * 1024,
  });
  alice = await shop.tokens.sign({ sub: ALICE });
});
after(async () => {
  agent.destroy();
  await edge?.close();
  await shop?.close();
  closeClients();
});

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

function generator(random: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const junk = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(Math.floor(random() * 0x2ff) + 1)).join("");
  const badIds = [
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e",
    "..",
    "Not_A_UUID!",
    "%00",
    "x".repeat(3_000),
    "%E0%A4%A",
    "%F0%9F%92%A9",
    "1;DROP%20TABLE%20products",
    "%24%7Bjndi:ldap%7D",
    "0190c5d2-7a3e-7b1c-9f00-00000000000G",
  ];
  const badTokens = [
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "Bearer a.b.c",
    `Bearer ${"A".repeat(5_000)}`,
    "bearer x y z",
  ];
  const badValues: unknown[] = [
    "many",
    -1,
    Number.MAX_VALUE,
    1.5,
    true,
    null,
    [],
    {},
    [1, 2],
    { a: 1 },
    "9".repeat(40),
  ];
  const bodies: (() => string)[] = [
    () => "{",
    () => junk(30),
    () => "[]",
    () => "42",
    () => '"str"',
    () => "null",
    () => "[".repeat(5_000) + "]".repeat(5_000),
    () => `{"a":${'{"a":'.repeat(200)}1${"}".repeat(200)}}`,
    () => JSON.stringify({ variantId: VARIANT, quantity: pick(badValues) }),
    () => JSON.stringify({ variantId: pick(badValues), quantity: 1 }),
    () => JSON.stringify({ variantId: VARIANT, quantity: 1, [junk(5)]: 1 }),
    () => JSON.stringify({ variant_id: VARIANT, variantId: VARIANT, quantity: -5 }),
    () => `{"quantity": 1, "quantity": 2, "variantId": 5}`,
    () => "x".repeat(20_000),
  ];
  const generators: (() => FuzzRequest)[] = [
    // malformed bodies on a body:"*" route
    () => ({
      method: "POST",
      path: `/api/v1/cart/${ALICE}/items`,
      headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
      body: pick(bodies)(),
    }),
    // wrong types and unknown fields on a public body route
    () => ({
      method: "POST",
      path: `/api/v1/products/${KNOWN_PRODUCT_ID}/views`,
      headers: { "content-type": pick(["application/json", "text/plain", "application/xml"]) },
      body: JSON.stringify({
        sessionId: pick(badValues),
        source: pick(["NOPE", 99, -3, "VIEW_SOURCE_X"]),
      }),
    }),
    // bad enums, types and unknown query parameters
    () => ({
      method: "GET",
      path: `/api/v1/products?${pick([
        "sort=SIDEWAYS",
        "sort=999",
        "page.page_size=lots",
        "page.page_size=1e99",
        "active=maybe",
        `${encodeURIComponent(junk(4))}=1`,
        "page=1",
        "min_price=3",
        "brands.x=1",
        "sort=1&sort=2",
      ])}`,
      headers: {},
    }),
    // path traversal and garbage in ids
    () => ({
      method: "GET",
      path: pick([
        `/api/v1/products/${pick(badIds)}`,
        `/api/v1/variants/${pick(badIds)}`,
        `/api/v1/product-slugs/${pick(badIds)}`,
        `/api/v1/products/${pick(badIds)}/reviews/../../admin`,
      ]),
      headers: {},
    }),
    // bad tokens on protected and public routes
    () => ({
      method: "GET",
      path: pick([
        `/api/v1/cart/${ALICE}`,
        `/api/v1/products/${KNOWN_PRODUCT_ID}`,
        "/api/v1/admin/orders",
      ]),
      headers: { authorization: pick(badTokens) },
    }),
    // odd methods and unknown paths
    () => ({
      method: pick(["PROPFIND", "FOO", "PURGE", "PATCH", "DELETE", "PUT", "OPTIONS"]),
      path: pick([
        `/api/v1/products/${KNOWN_PRODUCT_ID}/views`,
        "/api/v1/auth/login",
        `/api/v9/${encodeURIComponent(junk(3))}`,
        "/api/v1/",
      ]),
      headers: {},
    }),
    // huge bodies
    () => ({
      method: "POST",
      path: "/api/v1/auth/register",
      headers: { "content-type": "application/json" },
      body: Buffer.alloc(64 * 1024 + Math.floor(random() * 1024), 0x61),
    }),
    // malformed Connect calls and internal procedures
    () => ({
      method: "POST",
      path: pick([
        "/shopmesh.catalog.v1.CatalogService/GetProduct",
        "/shopmesh.catalog.v1.CatalogService/BatchGetProducts",
        "/shopmesh.payment.v1.PaymentService/Charge",
        `/shopmesh.nope.v1.X/${encodeURIComponent(junk(2))}`,
      ]),
      headers: { "content-type": "application/json", "connect-protocol-version": "1" },
      body: pick(bodies)(),
    }),
  ];
  return () => pick(generators)();
}

function send(req: FuzzRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(edge.url);
    const r = request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers: req.headers,
        agent,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    r.on("error", reject);
    r.on("timeout", () => r.destroy(new Error(`timeout: ${req.method} ${req.path}`)));
    r.end(req.body);
  });
}

describe("fuzzing the edge with malformed requests", { timeout: 120_000 }, () => {
  it(`answers ${REQUESTS} malformed requests with 4xx JSON errors and keeps serving`, async () => {
    const next = generator(prng(20_250_101));
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    const worker = async () => {
      while (sent < REQUESTS) {
        sent++;
        const req = next();
        let res: { status: number; body: string };
        try {
          res = await send(req);
        } catch (err) {
          // The edge may close the connection after a 413 on a body it refused to read.
          if (req.body && Buffer.byteLength(req.body) > 16 * 1024) continue;
          failures.push(`${req.method} ${req.path.slice(0, 80)}: ${(err as Error).message}`);
          continue;
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        let json: { code?: unknown; message?: unknown; details?: unknown } | undefined;
        try {
          json = JSON.parse(res.body);
        } catch {
          json = undefined;
        }
        const isRest = req.path.startsWith("/api/");
        const shapeOk =
          typeof json?.code === "string" &&
          (!isRest || (typeof json.message === "string" && Array.isArray(json.details)));
        if (res.status < 400 || res.status >= 500 || !shapeOk) {
          failures.push(
            `${req.method} ${req.path.slice(0, 80)} -> ${res.status} ${res.body.slice(0, 120)}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} bad answers`);
    assert.ok([...statuses.values()].reduce((a, b) => a + b, 0) > REQUESTS * 0.9);

    const good = await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}`);
    assert.equal(good.status, 200);
    const ok = await fetch(`${edge.url}/api/v1/cart/${ALICE}/items`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
      body: JSON.stringify({ variantId: VARIANT, quantity: 1 }),
    });
    assert.equal(ok.status, 201);
  });
});
