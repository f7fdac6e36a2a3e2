import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { status as Status } from "@grpc/grpc-js";
import {
  AlreadyExistsError,
  Code,
  ConflictError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  RpcError,
  toStatus,
  UnauthenticatedError,
  UnavailableError,
} from "@shopmesh/platform/errors";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { type InProcessProbe, startProbe } from "./fixtures/probe-in-process.ts";
import { ProbeService } from "./gen/shopmesh/platformtest/v1/probe_pb.ts";

describe("error mapping", () => {
  test("maps each typed domain error to its gRPC code and keeps its message", () => {
    const cases: [Error, Status][] = [
      [new NotFoundError("product p1 not found"), Code.NOT_FOUND],
      [new InvalidArgumentError("quantity", "must be positive"), Code.INVALID_ARGUMENT],
      [new FailedPreconditionError("order o1 already shipped"), Code.FAILED_PRECONDITION],
      [new AlreadyExistsError("user u1 already exists"), Code.ALREADY_EXISTS],
      [new PermissionDeniedError("cart c1 belongs to another user"), Code.PERMISSION_DENIED],
      [new UnauthenticatedError(), Code.UNAUTHENTICATED],
      [new ConflictError("order o1 changed concurrently"), Code.ABORTED],
      [new UnavailableError("payment gateway down"), Code.UNAVAILABLE],
      [new ResourceExhaustedError("rate limit exceeded"), Code.RESOURCE_EXHAUSTED],
    ];
    for (const [err, code] of cases) {
      const mapped = toStatus(err);
      assert.equal(mapped.code, code, err.constructor.name);
      assert.equal(mapped.details, err.message);
      assert.equal(mapped.unexpected, false);
    }
    assert.equal(
      toStatus(new InvalidArgumentError("quantity", "must be positive")).details,
      "quantity: must be positive",
    );
  });

  test("maps an unknown error to INTERNAL with a generic message and flags it for logging", () => {
    const mapped = toStatus(new TypeError("cannot read properties of undefined (reading 'id')"));
    assert.equal(mapped.code, Code.INTERNAL);
    assert.equal(mapped.details, "internal error");
    assert.equal(mapped.unexpected, true);
  });

  describe("over the wire", () => {
    let probe: InProcessProbe;
    let client: ReturnType<typeof createClient<typeof ProbeService>>;
    before(async () => {
      probe = await startProbe();
      client = createClient(ProbeService, probe.address, { breaker: false });
    });
    after(async () => {
      closeClients();
      await probe.service.stop();
    });

    test("a NotFoundError thrown by a handler reaches the client as NOT_FOUND with its message", async () => {
      const err = await client.lookup({ id: "missing-42" }).catch((e: unknown) => e);
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, Code.NOT_FOUND);
      assert.equal(err.message, "item missing-42 not found");
    });

    test("a bug in a handler reaches the client as INTERNAL without its message or stack", async () => {
      const err = await client.lookup({ id: "bug-1" }).catch((e: unknown) => e);
      assert.ok(err instanceof RpcError);
      assert.equal(err.code, Code.INTERNAL);
      assert.equal(err.message, "internal error");
      assert.doesNotMatch(JSON.stringify(err.metadata.getMap()), /hunter2|at /);
    });
  });
});
