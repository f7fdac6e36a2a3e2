import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type InProcessProbe, startProbe } from "./fixtures/probe-in-process.ts";

const buf = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));

/** Runs `buf curl` (a gRPC client shopmesh did not write) and collects its exit code and output. */
function bufCurl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      buf,
      ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args],
      { timeout: 20_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("stock tooling: buf curl through server reflection", () => {
  let probe: InProcessProbe;
  let base: string;
  before(async () => {
    probe = await startProbe();
    base = `http://${probe.address}`;
  });
  after(() => probe.service.stop());

  for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
    test(`lists the probe and health methods over reflection ${protocol}`, async () => {
      const result = await bufCurl(["--reflect-protocol", protocol, "--list-methods", base]);
      assert.equal(result.code, 0, result.stderr);
      const methods = result.stdout.trim().split("\n").sort();
      for (const method of ["Echo", "Lookup", "Sleep"]) {
        assert.ok(
          methods.includes(`shopmesh.platformtest.v1.ProbeService/${method}`),
          result.stdout,
        );
      }
      assert.ok(methods.includes("grpc.health.v1.Health/Check"), result.stdout);
    });
  }

  test("calls Echo with a JSON body, the schema coming from reflection", async () => {
    const result = await bufCurl([
      "-d",
      '{"text":"hi","count":2}',
      `${base}/shopmesh.platformtest.v1.ProbeService/Echo`,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { text: "hi", count: 2 });
    assert.equal(probe.state.calls.echo, 1);
  });

  test("shows the field violation of an invalid request", async () => {
    const result = await bufCurl([
      "-d",
      '{"text":""}',
      `${base}/shopmesh.platformtest.v1.ProbeService/Echo`,
    ]);
    assert.notEqual(result.code, 0);
    const error = JSON.parse(result.stdout || result.stderr) as {
      code: string;
      message: string;
      details: { type: string }[];
    };
    assert.equal(error.code, "invalid_argument");
    assert.match(error.message, /^text: /);
    assert.equal(error.details[0]?.type, "google.rpc.BadRequest");
  });

  test("health Check answers SERVING", async () => {
    const result = await bufCurl([`${base}/grpc.health.v1.Health/Check`]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { status: "SERVING" });
  });
});
