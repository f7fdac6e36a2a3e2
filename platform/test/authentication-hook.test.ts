import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, RpcError, UnauthenticatedError } from "@shopmesh/platform/errors";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { type InProcessProbe, startProbe } from "./fixtures/probe-in-process.ts";
import { ProbeService } from "./gen/shopmesh/platformtest/v1/probe_pb.ts";

describe("authentication hook", () => {
  let probe: InProcessProbe;
  let client: ReturnType<typeof createClient<typeof ProbeService>>;
  before(async () => {
    probe = await startProbe({
      // Stands in for JWT verification: "Bearer <subject>" is accepted, anything else is not.
      async authenticate(metadata) {
        const [authorization] = metadata.get("authorization");
        const match = /^Bearer (\w+)$/.exec(String(authorization ?? ""));
        if (!match) throw new UnauthenticatedError("missing bearer token");
        return { subject: match[1]!, roles: ["customer"] };
      },
    });
    client = createClient(ProbeService, probe.address, { breaker: false });
  });
  after(async () => {
    closeClients();
    await probe.service.stop();
  });

  test("hands the principal it returns to the handler", async () => {
    await client.echo({ text: "hi" }, { metadata: { authorization: "Bearer alice" } });
    assert.equal(probe.state.lastContext?.principal?.subject, "alice");
    assert.deepEqual(probe.state.lastContext?.principal?.roles, ["customer"]);
  });

  test("rejects a call it refuses with UNAUTHENTICATED before validation and the handler", async () => {
    const before = probe.state.calls.echo;
    const err = await client.echo({ text: "" }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.code, Code.UNAUTHENTICATED, "an anonymous caller learns nothing of the rules");
    assert.equal(err.message, "missing bearer token");
    assert.equal(probe.state.calls.echo, before);
  });
});
