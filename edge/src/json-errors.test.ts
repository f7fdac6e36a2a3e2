import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DescMessage } from "@bufbuild/protobuf";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ListProductsRequestSchema } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { CancelOrderRequestSchema } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { jsonError } from "./json-errors.ts";

/** The INVALID_ARGUMENT detail jsonError makes of protobuf-es's refusal of `json`. */
function refusal(schema: DescMessage, json: JsonValue) {
  try {
    fromJson(schema, json, { ignoreUnknownFields: false });
  } catch (err) {
    const e = jsonError(err, schema, json);
    return { field: e.violations[0]?.field ?? "", message: e.message };
  }
  throw new Error("protobuf-es accepted the JSON");
}

describe("jsonError", () => {
  it("names the field of an unknown enum string in a body (protobuf-es prints only 'string')", () => {
    const r = refusal(CancelOrderRequestSchema, {
      orderId: "0190c5d2-7a3e-7b1c-9f00-000000000001",
      reason: "CANCELLATION_REASON_CUSTOMER_REQUEST",
    });
    assert.equal(r.field, "reason");
    assert.match(r.message, /"CANCELLATION_REASON_CUSTOMER_REQUEST" is not a value/);
  });

  it("names the field of a non-integer enum value", () => {
    assert.equal(refusal(CancelOrderRequestSchema, { reason: 2.5 }).field, "reason");
    assert.equal(refusal(CancelOrderRequestSchema, { reason: true }).field, "reason");
  });

  it("names an unknown key by its path", () => {
    assert.equal(refusal(ListProductsRequestSchema, { page: { colour: 1 } }).field, "page.colour");
  });
});
