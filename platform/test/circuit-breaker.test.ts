import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { Registry } from "prom-client";
import { type InProcessProbe, startProbe } from "./fixtures/probe-in-process.ts";
import { ProbeService } from "./gen/shopmesh/platformtest/v1/probe_pb.ts";

const breaker = { volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 30_000 };

/** A port nothing listens on: bound once to learn a free one, then released. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<RpcError> {
  const err = await promise.then(
    () => assert.fail("the call should have failed"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RpcError, String(err));
  return err;
}

async function breakerState(registry: Registry, method: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric("grpc_client_circuit_state")?.get();
  return metric?.values.find((v) => v.labels.method === method)?.value;
}

describe("circuit breaker", () => {
  // Breakers are shared per (target, method) by every client, so one registry for the suite.
  const registry = new Registry();
  let probe: InProcessProbe;
  before(async () => {
    probe = await startProbe();
  });
  after(async () => {
    closeClients();
    await probe.service.stop();
  });

  test("opens when the server answers UNAVAILABLE, then fails fast without calling it", async () => {
    const client = createClient(ProbeService, probe.address, {
      breaker,
      registry,
      retry: { maxAttempts: 1 },
    });
    probe.state.failNext(1_000);
    for (let i = 0; i < 4; i++) {
      const err = await failure(client.echo({ text: "x" }));
      assert.equal(err.code, Code.UNAVAILABLE);
      assert.match(err.message, /injected fault/);
    }
    const callsBefore = probe.state.calls.echo;
    const started = performance.now();
    const err = await failure(client.echo({ text: "x" }));
    assert.equal(err.code, Code.UNAVAILABLE);
    assert.equal(
      err.message,
      `circuit open for ${probe.address}/shopmesh.platformtest.v1.ProbeService/Echo`,
    );
    assert.equal(probe.state.calls.echo, callsBefore, "an open breaker must not reach the server");
    assert.ok(performance.now() - started < 20, "an open breaker fails fast");
    assert.equal(await breakerState(registry, "shopmesh.platformtest.v1.ProbeService/Echo"), 2);
    probe.state.failNext(0);
  });

  test("opens when the target is down", async () => {
    const address = `127.0.0.1:${await deadPort()}`;
    const client = createClient(ProbeService, address, { breaker, retry: { maxAttempts: 1 } });
    for (let i = 0; i < 4; i++) {
      assert.equal((await failure(client.lookup({ id: "a" }))).code, Code.UNAVAILABLE);
    }
    const err = await failure(client.lookup({ id: "a" }));
    assert.match(err.message, /^circuit open for /);
  });

  test("stays closed through many NOT_FOUNDs, which are business answers", async () => {
    const client = createClient(ProbeService, probe.address, { breaker, registry });
    for (let i = 0; i < 20; i++) {
      assert.equal((await failure(client.lookup({ id: `missing-${i}` }))).code, Code.NOT_FOUND);
    }
    assert.equal((await client.lookup({ id: "present" })).id, "present");
    assert.equal(probe.state.calls.lookup, 21, "every call reached the server");
    assert.equal(await breakerState(registry, "shopmesh.platformtest.v1.ProbeService/Lookup"), 0);
  });

  test("stays closed through INVALID_ARGUMENT answers", async () => {
    const client = createClient(ProbeService, probe.address, { breaker });
    for (let i = 0; i < 10; i++) {
      assert.equal((await failure(client.sleep({ delayMs: -1 }))).code, Code.INVALID_ARGUMENT);
    }
    assert.equal((await client.sleep({ delayMs: 0 })).sleptMs, 0);
  });
});
