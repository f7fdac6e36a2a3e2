import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { closeClients } from "@shopmesh/platform/grpc-client";
import { type FakeShop, KNOWN_PRODUCT_ID, startFakeShop } from "./fixtures/fake-shop.ts";
import { startTestEdge, type TestEdge } from "./fixtures/test-edge.ts";

let shop: FakeShop;
const edges: TestEdge[] = [];

before(async () => {
  shop = await startFakeShop();
});
after(async () => {
  await Promise.all(edges.map((e) => e.close()));
  await shop?.close();
  closeClients();
});

async function edgeWith(options: Partial<Parameters<typeof startTestEdge>[0]> = {}) {
  const edge = await startTestEdge({ address: shop.address, tokens: shop.tokens, ...options });
  edges.push(edge);
  return edge;
}

/** A local port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("edge protection", { timeout: 30_000 }, () => {
  it("answers 429 with Retry-After once a client IP is over its limit", async () => {
    const edge = await edgeWith({ perIp: { capacity: 3, perMinute: 6 } });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}`);
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter = res.headers.get("retry-after");
        const body = (await res.json()) as { code: string };
        assert.equal(body.code, "resource_exhausted");
      } else await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 10, `Retry-After ${retryAfter}`);
  });

  it("limits a signed-in user across requests by their own bucket", async () => {
    const edge = await edgeWith({ perUser: { capacity: 2, perMinute: 2 } });
    const token = await shop.tokens.sign({ sub: "0190c5d2-7a3e-7b1c-9f00-00000000a11c" });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    const anonymous = await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}`);
    assert.equal(anonymous.status, 200, "the IP bucket still has room for anonymous calls");
  });

  it("answers 413 for a body over the limit, declared or streamed", async () => {
    const edge = await edgeWith({ maxBodyBytes: 2048 });
    const huge = JSON.stringify({ sessionId: "x".repeat(10_000) });
    const declared = await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}/views`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: huge,
    });
    assert.equal(declared.status, 413);
    assert.equal(((await declared.json()) as { code: string }).code, "payload_too_large");
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(huge));
        controller.close();
      },
    });
    const streamed = await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}/views`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    assert.equal(streamed.status, 413);
  });

  it("answers a CORS preflight for an allowed origin, and refuses other origins", async () => {
    const edge = await edgeWith({ corsOrigins: ["https://shop.example"] });
    const ok = await fetch(`${edge.url}/api/v1/cart/u1`, {
      method: "OPTIONS",
      headers: {
        origin: "https://shop.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get("access-control-allow-origin"), "https://shop.example");
    assert.match(ok.headers.get("access-control-allow-headers") ?? "", /authorization/);
    assert.match(ok.headers.get("access-control-allow-methods") ?? "", /POST/);
    const denied = await fetch(`${edge.url}/api/v1/cart/u1`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get("access-control-allow-origin"), null);
    const simple = await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}`, {
      headers: { origin: "https://shop.example" },
    });
    assert.equal(simple.headers.get("access-control-allow-origin"), "https://shop.example");
    assert.match(simple.headers.get("access-control-expose-headers") ?? "", /x-request-id/);
  });

  it("answers 503 quickly when a service is down, and keeps doing so once the breaker opens", async () => {
    const port = await closedPort();
    const edge = await edgeWith({ addresses: { catalog: `127.0.0.1:${port}` } });
    const timings: number[] = [];
    for (let i = 0; i < 8; i++) {
      const started = performance.now();
      const res = await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}`);
      timings.push(performance.now() - started);
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { code: string }).code, "unavailable");
    }
    assert.ok(Math.max(...timings) < 1_500, `slowest 503 took ${Math.max(...timings)} ms`);
    const cart = await fetch(`${edge.url}/api/v1/cart/u1`);
    assert.equal(cart.status, 401, "other services' routes are unaffected");
  });

  it("reports ready only when the JWKS is loaded and required services answer", async () => {
    const port = await closedPort();
    const healthy = await edgeWith({ required: ["catalog"] });
    const ready = await fetch(`${healthy.url}/readyz`);
    const report = (await ready.json()) as { ready: boolean; checks: Record<string, string> };
    assert.equal(ready.status, 200, JSON.stringify(report));
    assert.deepEqual(report.checks, { jwks: "ok", catalog: "ok" });
    const down = await edgeWith({
      addresses: { catalog: `127.0.0.1:${port}` },
      required: ["catalog"],
    });
    const notReady = await fetch(`${down.url}/readyz`);
    assert.equal(notReady.status, 503);
    const body = (await notReady.json()) as { ready: boolean; checks: Record<string, string> };
    assert.equal(body.ready, false);
    assert.notEqual(body.checks.catalog, "ok");
    assert.equal((await fetch(`${down.url}/healthz`)).status, 200);
  });

  it("exports Prometheus metrics labelled by route template", async () => {
    const edge = await edgeWith();
    await (await fetch(`${edge.url}/api/v1/products/${KNOWN_PRODUCT_ID}`)).arrayBuffer();
    const text = await (await fetch(`${edge.url}/metrics`)).text();
    assert.match(
      text,
      /edge_http_requests_total\{route="GET \/api\/v1\/products\/\{product_id\}",method="GET",status="200"\} 1/,
    );
    assert.match(text, /grpc_client_handled_total/);
  });
});
