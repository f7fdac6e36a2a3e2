import { defaultRegistry, type Registry } from "@shopmesh/platform/metrics";
import { Counter, Histogram } from "prom-client";

/** HTTP metrics of the edge, labelled by route template (never by raw path, to bound cardinality). */
export interface EdgeMetrics {
  /** Records one answered request. */
  record(route: string, method: string, status: number, seconds: number): void;
  /** Counts one request refused by the rate limiter. */
  rateLimited(): void;
}

const memo = new WeakMap<Registry, EdgeMetrics>();

/**
 * The edge's metrics in `registry` (created once per registry, since prom-client refuses
 * duplicate names): `edge_http_requests_total{route,method,status}`,
 * `edge_http_request_duration_seconds{route,method}` and `edge_rate_limited_total`.
 */
export function edgeMetrics(registry: Registry = defaultRegistry): EdgeMetrics {
  const existing = memo.get(registry);
  if (existing) return existing;
  const requests = new Counter({
    name: "edge_http_requests_total",
    help: "HTTP requests answered by the edge, by route template, method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "edge_http_request_duration_seconds",
    help: "Time to answer an HTTP request at the edge, by route template and method.",
    labelNames: ["route", "method"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const limited = new Counter({
    name: "edge_rate_limited_total",
    help: "Requests refused with 429 by the edge's rate limiter.",
    registers: [registry],
  });
  const metrics: EdgeMetrics = {
    record(route, method, status, seconds) {
      requests.labels(route, method, String(status)).inc();
      duration.labels(route, method).observe(seconds);
    },
    rateLimited: () => limited.inc(),
  };
  memo.set(registry, metrics);
  return metrics;
}
