import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type Registry,
  register,
} from "prom-client";

export type { Registry };

/** The process-wide registry services use unless they pass their own (tests do). */
export const defaultRegistry: Registry = register;

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Per-RPC metrics of one side (server or client), named as go-grpc-prometheus names them so
 * existing Grafana dashboards work: `grpc_server_handled_total{grpc_service,grpc_method,grpc_code}`
 * and `grpc_server_handling_seconds`. The labelled children are cached per method and code, so
 * recording a call costs two map lookups rather than prom-client's label hashing.
 */
export interface RpcMetrics {
  /** Records one finished call of `service/method` that took `seconds` and ended with `code`. */
  record(service: string, method: string, code: number, seconds: number): void;
}

/** Circuit-breaker state per (target, method): 0 closed, 1 half-open, 2 open. */
export type BreakerStateGauge = Gauge<"target" | "method">;

interface RegistryMetrics {
  server: RpcMetrics;
  client: RpcMetrics;
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
      server: createRpcMetrics(registry, "server"),
      client: createRpcMetrics(registry, "client"),
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

function createRpcMetrics(registry: Registry, side: "server" | "client"): RpcMetrics {
  const handled = new Counter({
    name: `grpc_${side}_handled_total`,
    help: `RPCs completed on the ${side}, by method and status code.`,
    labelNames: ["grpc_service", "grpc_method", "grpc_code"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: `grpc_${side}_handling_seconds`,
    help: `Latency of RPCs completed on the ${side}, in seconds.`,
    labelNames: ["grpc_service", "grpc_method"],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const counters = new Map<string, { inc(): void }>();
  const histograms = new Map<string, { observe(v: number): void }>();
  return {
    record(service, method, code, seconds) {
      const key = `${service}/${method}`;
      let histogram = histograms.get(key);
      if (!histogram) {
        histogram = latency.labels(service, method);
        histograms.set(key, histogram);
      }
      histogram.observe(seconds);
      const codeKey = `${key}#${code}`;
      let counter = counters.get(codeKey);
      if (!counter) {
        counter = handled.labels(service, method, codeName(code));
        counters.set(codeKey, counter);
      }
      counter.inc();
    },
  };
}

const CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** The canonical upper-case name of a gRPC status code ("NOT_FOUND"), as metrics label it. */
export function codeName(code: number): string {
  return CODE_NAMES[code] ?? String(code);
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
