import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, createFileRegistry, type DescMethod } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  MethodOptions_IdempotencyLevel,
} from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";
import { backoffMs, isReadMethod, retryPolicy } from "./retry-policy.ts";

// A contract built at runtime: one request type with an idempotency key, and methods whose names
// and idempotency options exercise every rule.
const service = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "retry/v1/retry.proto",
    package: "retry.v1",
    syntax: "proto3",
    messageType: [
      {
        name: "Request",
        field: [
          {
            name: "idempotency_key",
            jsonName: "idempotencyKey",
            number: 1,
            type: FieldDescriptorProto_Type.STRING,
            label: FieldDescriptorProto_Label.OPTIONAL,
          },
        ],
      },
    ],
    service: [
      {
        name: "RetryService",
        method: [
          ["GetThing"],
          ["Getaway"],
          ["List"],
          ["Reserve", MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS],
          ["GetButWrites", MethodOptions_IdempotencyLevel.IDEMPOTENT],
          ["Charge"],
        ].map(([name, idempotencyLevel]) => ({
          name: name as string,
          inputType: ".retry.v1.Request",
          outputType: ".retry.v1.Request",
          ...(idempotencyLevel
            ? { options: { idempotencyLevel: idempotencyLevel as number } }
            : {}),
        })),
      },
    ],
  }),
  () => undefined,
).getService("retry.v1.RetryService")!;

const method = (name: string): DescMethod => service.methods.find((m) => m.name === name)!;

describe("retry policy", () => {
  test("treats Get/List-style names as reads, but only at a word boundary", () => {
    assert.equal(isReadMethod(method("GetThing")), true);
    assert.equal(isReadMethod(method("List")), true);
    assert.equal(isReadMethod(method("Getaway")), false);
    assert.equal(isReadMethod(method("Charge")), false);
  });

  test("lets the proto's idempotency_level override the name", () => {
    assert.equal(isReadMethod(method("Reserve")), true, "NO_SIDE_EFFECTS is a read");
    assert.equal(isReadMethod(method("GetButWrites")), false, "IDEMPOTENT is a write");
  });

  test("retries reads on UNAVAILABLE and DEADLINE_EXCEEDED", () => {
    const codes = retryPolicy(method("GetThing"))({});
    assert.deepEqual([...codes].sort(), [status.DEADLINE_EXCEEDED, status.UNAVAILABLE].sort());
  });

  test("retries an IDEMPOTENT write on UNAVAILABLE only", () => {
    assert.deepEqual([...retryPolicy(method("GetButWrites"))({})], [status.UNAVAILABLE]);
  });

  test("retries a write on UNAVAILABLE only when it carries an idempotency key", () => {
    const policy = retryPolicy(method("Charge"));
    assert.deepEqual([...policy({ idempotencyKey: "order-1" })], [status.UNAVAILABLE]);
    assert.deepEqual([...policy({ idempotencyKey: "" })], []);
    assert.deepEqual([...retryPolicy(method("Charge"), { idempotencyKeyField: "other" })({})], []);
  });

  test("backs off exponentially with jitter, within half and all of each step, up to the cap", () => {
    const options = { initialBackoffMs: 100, multiplier: 2, maxBackoffMs: 1_000 };
    for (let i = 0; i < 200; i++) {
      const first = backoffMs(1, options);
      const third = backoffMs(3, options);
      const tenth = backoffMs(10, options);
      assert.ok(first >= 50 && first <= 100, `first retry waited ${first}`);
      assert.ok(third >= 200 && third <= 400, `third retry waited ${third}`);
      assert.ok(tenth >= 500 && tenth <= 1_000, `tenth retry waited ${tenth}`);
    }
    const spread = new Set(Array.from({ length: 20 }, () => backoffMs(2, options)));
    assert.ok(spread.size > 1, "jitter makes waits differ");
  });
});
