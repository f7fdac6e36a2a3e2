import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { type InProcessProbe, startProbe } from "./fixtures/probe-in-process.ts";
import { ProbeService } from "./gen/shopmesh/platformtest/v1/probe_pb.ts";

describe("request validation", () => {
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

  test("rejects an empty text with INVALID_ARGUMENT naming the field, before the handler runs", async () => {
    const err = await client.echo({ text: "" }).then(
      () => assert.fail("an empty text must be rejected"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    assert.match(err.message, /^text: .*at least 1 characters? \[string\.min_len\]$/);
    assert.deepEqual(
      err.violations.map((v) => [v.field, v.reason]),
      [["text", "string.min_len"]],
      "the field violation travels in grpc-status-details-bin",
    );
    assert.equal(probe.state.calls.echo, 0, "the handler must not run for an invalid request");
  });

  test("reports every violated rule at once, e.g. a count above 10 next to an empty text", async () => {
    const err = await client.echo({ text: "", count: 11 }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    assert.deepEqual(err.violations.map((v) => v.field).sort(), ["count", "text"]);
    assert.match(err.message, /count: .*10/);
    assert.equal(probe.state.calls.echo, 0);
  });

  test("lets a valid request through to the handler", async () => {
    const response = await client.echo({ text: "hello", count: 10 });
    assert.equal(response.text, "hello");
    assert.equal(response.count, 10);
    assert.equal(probe.state.calls.echo, 1);
  });
});
