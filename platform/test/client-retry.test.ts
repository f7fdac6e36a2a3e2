import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { isReadMethod } from "@shopmesh/platform/retry-policy";
import { type InProcessProbe, startProbe } from "./fixtures/probe-in-process.ts";
import { ProbeService } from "./gen/shopmesh/platformtest/v1/probe_pb.ts";

const retry = { maxAttempts: 5, initialBackoffMs: 20, maxBackoffMs: 200 };

describe("client retries", () => {
  let probe: InProcessProbe;
  before(async () => {
    probe = await startProbe();
  });
  afterEach(() => probe.state.failNext(0));
  after(async () => {
    closeClients();
    await probe.service.stop();
  });

  test("classifies reads by name prefix when the proto declares no idempotency level", () => {
    assert.equal(isReadMethod(ProbeService.method.lookup), true);
    assert.equal(isReadMethod(ProbeService.method.echo), false);
    assert.equal(isReadMethod(ProbeService.method.echo, ["Echo"]), true);
  });

  test("a read retries on UNAVAILABLE until the server answers", async () => {
    const client = createClient(ProbeService, probe.address, { retry, breaker: false });
    probe.state.failNext(2);
    const response = await client.lookup({ id: "a" });
    assert.equal(response.id, "a");
    assert.equal(probe.state.calls.lookup, 3, "two failed attempts, then the successful one");
  });

  test("a write without an idempotency key is not retried", async () => {
    const client = createClient(ProbeService, probe.address, { retry, breaker: false });
    probe.state.failNext(1);
    const err = await client.echo({ text: "charge" }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.UNAVAILABLE);
    assert.equal(probe.state.calls.echo, 1, "exactly one attempt reached the server");
  });

  test("a write carrying an idempotency key is retried", async () => {
    const client = createClient(ProbeService, probe.address, {
      retry: { ...retry, idempotencyKeyField: "text" },
      breaker: false,
    });
    probe.state.failNext(1);
    const before = probe.state.calls.echo;
    assert.equal((await client.echo({ text: "key-1" })).text, "key-1");
    assert.equal(probe.state.calls.echo - before, 2);
  });

  test("a read is not retried on a business error such as NOT_FOUND", async () => {
    const client = createClient(ProbeService, probe.address, { retry, breaker: false });
    const before = probe.state.calls.lookup;
    const err = await client.lookup({ id: "missing-1" }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.NOT_FOUND);
    assert.equal(probe.state.calls.lookup - before, 1);
  });

  test("a read retries while the target is down and succeeds once it comes back", async () => {
    const restarted = await startProbe();
    const { port } = restarted;
    await restarted.service.stop();
    const client = createClient(ProbeService, `127.0.0.1:${port}`, {
      retry: { maxAttempts: 10, initialBackoffMs: 50, maxBackoffMs: 100 },
      breaker: false,
    });
    const started = Date.now();
    const pending = client.lookup({ id: "back" });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const back = await startProbe({ port });
    try {
      assert.equal((await pending).id, "back");
      assert.ok(Date.now() - started >= 200, "it answered only after the server came back");
      assert.equal(back.state.calls.lookup, 1);
    } finally {
      await back.service.stop();
    }
  });
});
