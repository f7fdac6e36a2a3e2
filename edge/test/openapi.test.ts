import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import { closeClients } from "@shopmesh/platform/grpc-client";
import { openApiPath } from "../src/path-template.ts";
import { type FakeShop, startFakeShop } from "./fixtures/fake-shop.ts";
import { startTestEdge, type TestEdge } from "./fixtures/test-edge.ts";

let shop: FakeShop;
let edge: TestEdge;
let document: {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { name: string; in: string }[];
        security?: unknown[];
        responses: Record<string, unknown>;
      }
    >
  >;
  components: {
    schemas: Record<
      string,
      {
        properties?: Record<string, { type?: unknown; $ref?: string; format?: string }>;
        enum?: string[];
      }
    >;
  };
};

before(async () => {
  shop = await startFakeShop();
  edge = await startTestEdge({ address: shop.address, tokens: shop.tokens });
  const res = await fetch(`${edge.url}/openapi.json`);
  assert.equal(res.status, 200);
  document = (await res.json()) as typeof document;
});
after(async () => {
  await edge?.close();
  await shop?.close();
  closeClients();
});

describe("the OpenAPI document", { timeout: 30_000 }, () => {
  it("validates as OpenAPI 3 with swagger-parser", async () => {
    const copy = structuredClone(document);
    const api = (await SwaggerParser.validate(copy as never)) as { openapi: string };
    assert.match(api.openapi, /^3\./);
    const broken = structuredClone(document) as Record<string, unknown>;
    (broken.paths as Record<string, unknown>)["/x"] = { get: { responses: "nope" } };
    await assert.rejects(SwaggerParser.validate(broken as never), "the validator does reject");
  });

  it("lists exactly the REST routes the edge serves", () => {
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(document.paths)) {
      for (const verb of Object.keys(item)) documented.add(`${verb.toUpperCase()} ${path}`);
    }
    const served = new Set(
      edge.edge.routes.routes.map((r) => `${r.verb} ${openApiPath(r.template)}`),
    );
    assert.equal(served.size, edge.edge.routes.routes.length, "no two routes share verb and path");
    assert.deepEqual([...documented].sort(), [...served].sort());
  });

  it("documents path and query parameters, security and status codes from the contract", () => {
    const getCart = document.paths["/api/v1/cart/{user_id}"]!.get!;
    assert.deepEqual(
      getCart.parameters?.map((p) => `${p.in}:${p.name}`),
      ["path:user_id"],
    );
    assert.deepEqual(getCart.security, [{ bearerAuth: [] }]);
    const list = document.paths["/api/v1/products"]!.get!;
    const names = list.parameters!.map((p) => p.name);
    assert.ok(names.includes("page.page_size"), names.join());
    assert.ok(names.includes("brands"));
    assert.ok(
      list.security!.some((s) => JSON.stringify(s) === "{}"),
      "public: token optional",
    );
    assert.ok("201" in document.paths["/api/v1/cart/{user_id}/items"]!.post!.responses);
    assert.ok("200" in document.paths["/api/v1/products/{product_id}"]!.patch!.responses);
  });

  it("writes int64 as strings, enums as their names and uses proto JSON field names", () => {
    const money = document.components.schemas["shopmesh.common.v1.Money"]!;
    assert.deepEqual(money.properties!.amountMinor!.type, "string");
    assert.equal(money.properties!.amountMinor!.format, "int64");
    assert.ok(money.properties!.currencyCode);
    const sort = document.components.schemas["shopmesh.catalog.v1.ProductSort"]!;
    assert.ok(sort.enum!.includes("PRODUCT_SORT_NAME"));
    assert.ok(document.components.schemas.Error);
  });

  it("serves a self-contained docs page and its assets", async () => {
    const page = await fetch(`${edge.url}/docs`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /swagger-ui-bundle\.js/);
    assert.doesNotMatch(html, /https?:\/\//, "no CDN assets");
    const bundle = await fetch(`${edge.url}/docs/swagger-ui-bundle.js`);
    assert.equal(bundle.status, 200);
    assert.ok((await bundle.arrayBuffer()).byteLength > 100_000);
  });
});
