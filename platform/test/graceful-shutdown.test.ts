import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { checkHealth } from "./fixtures/health-check.ts";
import { startProbe } from "./fixtures/probe-in-process.ts";
import { spawnProbe } from "./fixtures/probe-process.ts";
import { ProbeService } from "./gen/shopmesh/platformtest/v1/probe_pb.ts";

describe("graceful shutdown", () => {
  after(() => closeClients());

  test("SIGTERM lets an in-flight call finish, reports NOT_SERVING, refuses new calls, exits 0", async () => {
    const server = await spawnProbe({ PROBE_DRAIN_DELAY_MS: "400" });
    try {
      assert.equal(await checkHealth(server.address), "SERVING");
      assert.equal(await checkHealth(server.address, ProbeService.typeName), "SERVING");
      const client = createClient(ProbeService, server.address, {
        timeoutMs: 5_000,
        breaker: false,
        retry: { maxAttempts: 1 },
      });
      const slow = client.sleep({ delayMs: 1_500 });
      await sleep(200);
      server.signal("SIGTERM");

      await sleep(100); // inside the drain delay: still answering, but not serving
      assert.equal(await checkHealth(server.address), "NOT_SERVING");
      assert.equal(await checkHealth(server.address, ProbeService.typeName), "NOT_SERVING");

      await sleep(500); // past the drain delay: the server no longer accepts calls
      const refused = await client.echo({ text: "late" }).catch((e: unknown) => e);
      assert.ok(refused instanceof RpcError, "a call after the drain started must fail");
      assert.equal(refused.code, Code.UNAVAILABLE);

      assert.equal((await slow).sleptMs, 1_500, "the in-flight call finished normally");
      assert.equal(await server.exited, 0, server.output());
    } finally {
      server.signal("SIGKILL");
    }
  });

  test("stop() drains in process: readiness and health flip before the server closes", async () => {
    const probe = await startProbe({ drainDelayMs: 300, metricsPort: 0 });
    const readyz = () =>
      fetch(`http://127.0.0.1:${probe.service.metricsPort}/readyz`).then((r) => r.status);
    assert.equal(await readyz(), 200);
    const stopped = probe.service.stop();
    await sleep(50);
    assert.equal(await checkHealth(probe.address), "NOT_SERVING");
    assert.equal(await readyz(), 503);
    assert.equal(await stopped, true);
  });
});
