import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { libraryService } from "../test/fixtures/library-contract.ts";
import { httpRuleOf, readHttpBindings } from "./http-rules.ts";
import { parsePathTemplate } from "./path-template.ts";
import { createRouteTable } from "./route-table.ts";
import { buildRequest, renderResponse } from "./transcode.ts";
import { UPSTREAM_SERVICES } from "./upstreams.ts";

const shopServices = UPSTREAM_SERVICES.map((u) => u.service);

function lookupName(table: ReturnType<typeof createRouteTable>, verb: string, path: string) {
  const found = table.lookup(verb, path);
  return found.kind === "match" ? found.binding.method.name : found.kind;
}

describe("route generation from the shopmesh annotations", () => {
  const bindings = readHttpBindings(shopServices);
  const table = createRouteTable(bindings);

  it("creates one route per http rule and additional binding, and none for internal RPCs", () => {
    let expected = 0;
    for (const service of shopServices) {
      for (const method of service.methods) {
        const rule = httpRuleOf(method);
        if (rule) expected += 1 + rule.additionalBindings.length;
      }
    }
    assert.equal(table.routes.length, expected);
    const names = new Set(table.routes.map((r) => r.method.name));
    for (const internal of [
      "ReserveStock",
      "Charge",
      "Refund",
      "BatchGetProducts",
      "CreateShipment",
    ]) {
      assert.ok(!names.has(internal), `${internal} must not be routed`);
    }
  });

  it("routes additional bindings to the same RPC with their own verbs", () => {
    const id = "0190c5d2-7a3e-7b1c-9f00-000000000001";
    assert.equal(lookupName(table, "PATCH", `/api/v1/products/${id}`), "UpdateProduct");
    assert.equal(lookupName(table, "PUT", `/api/v1/products/${id}`), "UpdateProduct");
    assert.equal(lookupName(table, "GET", "/api/v1/search/suggest"), "Suggest");
    assert.equal(lookupName(table, "GET", "/api/v1/search/suggestions"), "Suggest");
    assert.equal(lookupName(table, "POST", "/api/v1/search"), "Search");
    assert.equal(lookupName(table, "GET", "/api/v1/search"), "Search");
  });

  it("prefers literal segments over variables, whatever the declaration order", () => {
    assert.equal(lookupName(table, "GET", "/api/v1/shipments/track/1Z999"), "Track");
    assert.equal(lookupName(table, "GET", "/api/v1/shipments/abc/tracking"), "GetShipmentByOrder");
    assert.equal(
      lookupName(table, "GET", "/api/v1/products/p1/reviews/summary"),
      "GetProductRatingSummary",
    );
    assert.equal(lookupName(table, "GET", "/api/v1/products/p1/reviews"), "ListProductReviews");
    assert.equal(lookupName(table, "GET", "/.well-known/jwks.json"), "GetJwks");
  });

  it("reports 405 with the allowed verbs, 404 for unknown paths, and refuses dot segments", () => {
    assert.deepEqual(table.lookup("PATCH", "/api/v1/cart/u1"), {
      kind: "method_not_allowed",
      allow: ["DELETE", "GET"],
    });
    assert.equal(table.lookup("GET", "/api/v2/products").kind, "not_found");
    assert.equal(table.lookup("GET", "/api/v1/products/%2e%2e").kind, "bad_path");
    assert.equal(table.lookup("GET", "/api/v1/products/%E0%A4%A").kind, "bad_path");
  });
});

describe("annotation features beyond the shopmesh protos", () => {
  const library = libraryService();
  const table = createRouteTable(readHttpBindings([library]));

  it("binds {name=shelves/*/books/**} to the rest of the path, slashes included", () => {
    const found = table.lookup("GET", "/v1/shelves/s1/books/b2/chapters/3");
    assert.equal(found.kind, "match");
    if (found.kind !== "match") return;
    assert.deepEqual(found.pathValues, { name: "shelves/s1/books/b2/chapters/3" });
    assert.equal(table.lookup("GET", "/v1/racks/s1/books/b2").kind, "not_found");
  });

  it("matches a custom verb and fills the variable from the segment before it", () => {
    const found = table.lookup("POST", "/v1/shelves/s9:archive");
    assert.equal(found.kind, "match");
    if (found.kind === "match") assert.deepEqual(found.pathValues, { name: "shelves/s9" });
    assert.equal(table.lookup("POST", "/v1/shelves/s9").kind, "not_found");
  });

  it("fills a nested path variable next to a named body field", () => {
    const found = table.lookup("PATCH", "/v1/books/a7");
    assert.equal(found.kind, "match");
    if (found.kind !== "match") return;
    const request = buildRequest(found.binding, {
      pathValues: found.pathValues,
      query: new URLSearchParams("note=hello"),
      body: { title: "Dune", author: { displayName: "Frank" } },
    }) as unknown as {
      book: { title: string; author: { id: string; displayName: string } };
      note: string;
    };
    assert.equal(request.book.title, "Dune");
    assert.equal(request.book.author.id, "a7");
    assert.equal(request.book.author.displayName, "Frank");
    assert.equal(request.note, "hello");
  });

  it("answers only the response_body field, and routes a literal additional binding first", () => {
    const found = table.lookup("GET", "/v1/shelves/s1/books/b2");
    assert.equal(found.kind, "match");
    if (found.kind !== "match") return;
    const output = found.binding.method.output;
    const book = create(output, { book: { name: "shelves/s1/books/b2", title: "Dune" } } as never);
    assert.deepEqual(renderResponse(found.binding, book), {
      name: "shelves/s1/books/b2",
      title: "Dune",
    });
    const featured = table.lookup("GET", "/v1/shelves/featured/books");
    assert.equal(featured.kind === "match" && !featured.binding.primary, true);
  });

  it("maps nested query parameters (filter.display_name) and rejects body fields in the query", () => {
    const found = table.lookup("GET", "/v1/shelves/s1/books");
    assert.equal(found.kind, "match");
    if (found.kind !== "match") return;
    const request = buildRequest(found.binding, {
      pathValues: found.pathValues,
      query: new URLSearchParams("filter.display_name=Frank"),
      body: undefined,
    }) as unknown as { shelf: string; filter: { displayName: string } };
    assert.equal(request.shelf, "s1");
    assert.equal(request.filter.displayName, "Frank");
    assert.throws(
      () =>
        buildRequest(found.binding, {
          pathValues: found.pathValues,
          query: new URLSearchParams("shelf=other"),
          body: undefined,
        }),
      /shelf: is bound by the path/,
    );
  });

  it("refuses two routes with the same verb and path shape at start", () => {
    const [binding] = readHttpBindings([library]);
    const twin = { ...binding!, template: parsePathTemplate("/v1/{other=shelves/*/books/**}") };
    assert.throws(() => createRouteTable([binding!, twin]), /route conflict/);
  });

  it("rejects malformed templates", () => {
    assert.throws(() => parsePathTemplate("v1/x"), /must start with/);
    assert.throws(() => parsePathTemplate("/v1/{x"), /unclosed/);
    assert.throws(() => parsePathTemplate("/v1/**/x"), /last segment/);
  });
});
