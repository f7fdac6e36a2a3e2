import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  bool,
  ConfigError,
  int,
  loadConfig,
  oneOf,
  port,
  servicePorts,
  str,
  url,
} from "@shopmesh/platform/config";
import { spawnProbe } from "./fixtures/probe-process.ts";

const spec = {
  port: port("PORT", { default: 50052 }),
  databaseUrl: url("DATABASE_URL", { protocols: ["postgres:", "postgresql:"] }),
  logLevel: oneOf("LOG_LEVEL", ["debug", "info", "warn", "error"], { default: "info" }),
  poolSize: int("DB_POOL_SIZE", { default: 10, min: 1, max: 100 }),
  tracing: bool("TRACING_ENABLED", { default: false }),
  region: str("REGION", { default: "local" }),
};

describe("config", () => {
  test("parses typed values and applies defaults", () => {
    const config = loadConfig(spec, {
      DATABASE_URL: "postgres://shop@localhost:5432/catalog",
      DB_POOL_SIZE: "20",
      TRACING_ENABLED: "yes",
    });
    assert.deepEqual(
      { ...config },
      {
        port: 50052,
        databaseUrl: "postgres://shop@localhost:5432/catalog",
        logLevel: "info",
        poolSize: 20,
        tracing: true,
        region: "local",
      },
    );
  });

  test("a bad value fails with a message naming the variable and the value", () => {
    assert.throws(
      () => loadConfig(spec, { DATABASE_URL: "postgres://db/x", PORT: "fifty" }),
      (err: unknown) =>
        err instanceof ConfigError && /PORT must be an integer, got "fifty"/.test(err.message),
    );
  });

  test("reports every problem at once: missing, malformed, out of range, not allowed", () => {
    const err = (() => {
      try {
        loadConfig(spec, {
          PORT: "70000",
          LOG_LEVEL: "loud",
          DB_POOL_SIZE: "0",
          TRACING_ENABLED: "maybe",
        });
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems, [
      "PORT must be between 0 and 65535, got 70000",
      "DATABASE_URL is required but not set",
      'LOG_LEVEL must be one of debug, info, warn, error, got "loud"',
      "DB_POOL_SIZE must be between 1 and 100, got 0",
      'TRACING_ENABLED must be true or false, got "maybe"',
    ]);
  });

  test("rejects a URL with the wrong scheme", () => {
    assert.throws(
      () => loadConfig(spec, { DATABASE_URL: "mysql://db/x" }),
      /DATABASE_URL must use postgres: or postgresql:, got mysql:/,
    );
  });

  test("the metrics port follows the gRPC port unless it is set", () => {
    const ports = (env: Record<string, string>) => ({
      ...loadConfig(servicePorts(50052, env), env),
    });
    assert.deepEqual(ports({}), { grpcPort: 50052, metricsPort: 51052 });
    assert.deepEqual(ports({ GRPC_PORT: "7000" }), { grpcPort: 7000, metricsPort: 8000 });
    assert.deepEqual(ports({ GRPC_PORT: "0" }), { grpcPort: 0, metricsPort: 0 });
    assert.deepEqual(ports({ GRPC_PORT: "7000", METRICS_PORT: "9090" }), {
      grpcPort: 7000,
      metricsPort: 9090,
    });
    assert.throws(
      () => ports({ GRPC_PORT: "70000" }),
      /GRPC_PORT must be between 0 and 65535, got 70000/,
    );
  });

  test("a service with a bad value fails to boot, naming the variable", async () => {
    const boot = spawnProbe({ PROBE_PORT: "not-a-port" });
    await assert.rejects(boot, /PROBE_PORT must be an integer, got "not-a-port"/);
  });
});
