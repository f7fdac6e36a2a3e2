import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Gauge, type Registry, register } from "prom-client";
import { RpcMetricSet } from "./rpc-metrics.ts";

export type { MethodStats, RpcMetricSet } from "./rpc-metrics.ts";
export { codeName } from "./rpc-metrics.ts";
export type { Registry };

/** The process-wide registry services use unless they pass their own (tests do). */
export const defaultRegistry: Registry = register;

/** Circuit-breaker state per (target, method): 0 closed, 1 half-open, 2 open. */
export type BreakerStateGauge = Gauge<"target" | "method">;

/** The gRPC metrics of one registry; see {@link rpcMetrics}. */
export interface RegistryMetrics {
  /** Per-RPC metrics of the servers in this process. */
  server: RpcMetricSet;
  /** Per-RPC metrics of the clients in this process. */
  client: RpcMetricSet;
  breakerState: BreakerStateGauge;
}

const perRegistry = new WeakMap<Registry, RegistryMetrics>();

/**
 * The gRPC metrics registered in `registry`, created on first use. Memoised per registry because
 * prom-client refuses to register a metric name twice, and several servers and clients share
 * one process (in tests, and a service is usually both).
 */
export function rpcMetrics(registry: Registry = defaultRegistry): RegistryMetrics {
  let metrics = perRegistry.get(registry);
  if (!metrics) {
    // Another module (or a test) may already have asked for the default metrics here.
    if (!registry.getSingleMetric("process_cpu_user_seconds_total")) {
      collectDefaultMetrics({ register: registry });
    }
    metrics = {
      server: new RpcMetricSet(registry, "server"),
      client: new RpcMetricSet(registry, "client"),
      breakerState: new Gauge({
        name: "grpc_client_circuit_state",
        help: "Circuit breaker state per target and method: 0 closed, 1 half-open, 2 open.",
        labelNames: ["target", "method"],
        registers: [registry],
      }),
    };
    perRegistry.set(registry, metrics);
  }
  return metrics;
}

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  port: number;
  host?: string;
  registry?: Registry;
  /** Answers `/readyz`: ready while the service is serving, not while it drains. */
  isReady?: () => boolean;
}

/** A running metrics endpoint: its bound port and a way to stop it. */
export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Serves `/metrics` (Prometheus text format), `/healthz` (the process is alive) and `/readyz`
 * (the service accepts traffic) on a port of its own, so scraping and HTTP probes never compete
 * with RPCs and never need gRPC.
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const registry = options.registry ?? defaultRegistry;
  rpcMetrics(registry);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType }).end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { "content-type": "text/plain" }).end(String(err));
        },
      );
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const ready = options.isReady?.() ?? true;
      res.writeHead(ready ? 200 : 503, { "content-type": "text/plain" });
      res.end(ready ? "ready\n" : "not ready\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
