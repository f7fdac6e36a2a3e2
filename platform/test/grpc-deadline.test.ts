import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { requestContext } from "@shopmesh/platform/logger";
import { type InProcessProbe, startProbe } from "./fixtures/probe-in-process.ts";
import { ProbeService } from "./gen/shopmesh/platformtest/v1/probe_pb.ts";

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms).unref(),
    ),
  ]);

describe("deadlines", () => {
  let probe: InProcessProbe;
  let client: ReturnType<typeof createClient<typeof ProbeService>>;
  before(async () => {
    probe = await startProbe();
    client = createClient(ProbeService, probe.address, {
      breaker: false,
      retry: { maxAttempts: 1 },
    });
  });
  after(async () => {
    closeClients();
    await probe.service.stop();
  });

  test("a call outliving its deadline fails with DEADLINE_EXCEEDED and the handler's signal aborts", async () => {
    const started = Date.now();
    const err = await client.sleep({ delayMs: 2_000 }, { timeoutMs: 150 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    assert.ok(err instanceof RpcError, String(err));
    assert.equal(err.code, Code.DEADLINE_EXCEEDED);
    assert.ok(elapsed < 1_000, `the client gave up after ${elapsed} ms, not at its deadline`);
    const reason = await withTimeout(probe.state.sleepAborted, 1_000, "the handler's abort");
    assert.ok(reason instanceof Error);
    assert.ok(Number.isFinite(probe.state.lastContext?.deadline), "the handler saw the deadline");
    await new Promise((resolve) => setImmediate(resolve));
    const metrics = await probe.registry.metrics();
    assert.match(metrics, /grpc_method="Sleep",grpc_code="DEADLINE_EXCEEDED"\} 1/);
    assert.doesNotMatch(metrics, /grpc_code="INTERNAL"/, "an aborted handler is not a bug");
  });

  test("every call has a deadline even when the caller sets none", async () => {
    const fast = createClient(ProbeService, probe.address, { timeoutMs: 100, breaker: false });
    const err = await fast.sleep({ delayMs: 1_000 }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.DEADLINE_EXCEEDED);
  });

  test("a call made while serving another inherits the served call's shorter deadline", async () => {
    const started = Date.now();
    const err = await requestContext
      .run({ deadline: Date.now() + 120 }, () => client.sleep({ delayMs: 1_000 }))
      .catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - started < 1_000);
  });

  test("aborting the caller's signal cancels the call", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const err = await client
      .sleep({ delayMs: 1_000 }, { signal: controller.signal })
      .catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.CANCELLED);
  });

  test("a call that finishes in time succeeds", async () => {
    const response = await client.sleep({ delayMs: 20 }, { timeoutMs: 1_000 });
    assert.equal(response.sleptMs, 20);
  });
});
