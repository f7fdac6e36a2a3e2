import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { requestContext } from "@shopmesh/platform/logger";
import { type InProcessProbe, startProbe } from "./fixtures/probe-in-process.ts";
import { ProbeService } from "./gen/shopmesh/platformtest/v1/probe_pb.ts";

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const spanId = "00f067aa0ba902b7";

describe("metrics and trace context", () => {
  let probe: InProcessProbe;
  let client: ReturnType<typeof createClient<typeof ProbeService>>;
  before(async () => {
    probe = await startProbe({ metricsPort: 0 });
    client = createClient(ProbeService, probe.address, { breaker: false });
  });
  after(async () => {
    closeClients();
    await probe.service.stop();
  });

  test("passes the caller's correlation id and W3C traceparent to the server", async () => {
    const traceContext = trace.setSpanContext(ROOT_CONTEXT, {
      traceId,
      spanId,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    await requestContext.run({ correlationId: "order-7-checkout", traceContext }, () =>
      client.echo({ text: "traced" }),
    );
    const ctx = probe.state.lastContext!;
    assert.equal(ctx.correlationId, "order-7-checkout");
    const [traceparent] = ctx.metadata.get("traceparent");
    assert.match(String(traceparent), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });

  test("gives a call without a correlation id a fresh one", async () => {
    await client.echo({ text: "anonymous" });
    assert.match(probe.state.lastContext!.correlationId, /^[0-9a-f-]{36}$/);
    assert.match(probe.state.lastContext!.peer, /127\.0\.0\.1/);
  });

  test("counts calls by method and code on /metrics, with default process metrics", async () => {
    await client.lookup({ id: "missing-1" }).catch(() => undefined);
    await client.lookup({ id: "present" });
    const response = await fetch(`http://127.0.0.1:${probe.service.metricsPort}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    const line = (code: string) =>
      `grpc_server_handled_total{grpc_service="shopmesh.platformtest.v1.ProbeService",grpc_method="Lookup",grpc_code="${code}"} 1`;
    assert.ok(text.includes(line("NOT_FOUND")), text);
    assert.ok(text.includes(line("OK")));
    assert.match(text, /grpc_server_handling_seconds_count\{[^}]*grpc_method="Lookup"[^}]*\} 2/);
    assert.match(text, /process_cpu_user_seconds_total/);
  });

  test("answers /healthz on the metrics port", async () => {
    const response = await fetch(`http://127.0.0.1:${probe.service.metricsPort}/healthz`);
    assert.equal(response.status, 200);
  });
});
