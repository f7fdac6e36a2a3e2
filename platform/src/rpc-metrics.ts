import type { Registry } from "prom-client";

/** Upper bounds (seconds) of the RPC latency histogram buckets. */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

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

/** Counts of one method: calls per status code and the latency distribution. */
export class MethodStats {
  readonly codes = new Float64Array(CODE_NAMES.length);
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1); // last: above every bound
  sum = 0;
  count = 0;

  constructor(
    readonly service: string,
    readonly method: string,
  ) {}

  /** Records one finished call: a handful of array writes, no allocation. */
  record(code: number, seconds: number): void {
    if (code >= 0 && code < this.codes.length) this.codes[code]! += 1;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
    this.buckets[bucket]! += 1;
    this.sum += seconds;
    this.count += 1;
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/**
 * `grpc_<side>_handled_total{grpc_service,grpc_method,grpc_code}` and
 * `grpc_<side>_handling_seconds{grpc_service,grpc_method}` as go-grpc-prometheus names them, so
 * existing dashboards work. Calls are counted in plain per-method arrays and only turned into
 * prom-client samples when scraped: prom-client's own counters and histograms hash their
 * labels and allocate on every observation, which showed as a tenth of the server's per-call
 * overhead.
 */
export class RpcMetricSet {
  private readonly stats = new Map<string, MethodStats>();

  constructor(registry: Registry, side: "server" | "client") {
    const handled = `grpc_${side}_handled_total`;
    const latency = `grpc_${side}_handling_seconds`;
    this.register(
      registry,
      handled,
      `RPCs completed on the ${side}, by method and code.`,
      "counter",
      () => this.handledValues(),
    );
    this.register(
      registry,
      latency,
      `Latency of RPCs completed on the ${side}, in seconds.`,
      "histogram",
      () => this.latencyValues(latency),
    );
  }

  /** The stats of `service/method`, created on first use; keep it to record without a lookup. */
  method(service: string, method: string): MethodStats {
    const key = `${service}/${method}`;
    let stats = this.stats.get(key);
    if (!stats) {
      stats = new MethodStats(service, method);
      this.stats.set(key, stats);
    }
    return stats;
  }

  /** Zeroes every count in place: servers and clients keep their MethodStats references. */
  private reset() {
    for (const s of this.stats.values()) {
      s.codes.fill(0);
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }

  private register(
    registry: Registry,
    name: string,
    help: string,
    type: "counter" | "histogram",
    values: () => MetricValue[],
  ) {
    // The shape prom-client's registry reads from every metric when it renders /metrics.
    const metric = {
      name,
      help,
      type,
      aggregator: "sum",
      get: async () => ({ name, help, type, aggregator: "sum", values: values() }),
      reset: () => this.reset(),
    };
    registry.registerMetric(metric as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  private handledValues(): MetricValue[] {
    const values: MetricValue[] = [];
    for (const s of this.stats.values()) {
      s.codes.forEach((count, code) => {
        if (count > 0) {
          const labels = {
            grpc_service: s.service,
            grpc_method: s.method,
            grpc_code: codeName(code),
          };
          values.push({ labels, value: count });
        }
      });
    }
    return values;
  }

  private latencyValues(name: string): MetricValue[] {
    const values: MetricValue[] = [];
    for (const s of this.stats.values()) {
      const labels = { grpc_service: s.service, grpc_method: s.method };
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((bound, i) => {
        cumulative += s.buckets[i]!;
        values.push({
          labels: { ...labels, le: bound },
          value: cumulative,
          metricName: `${name}_bucket`,
        });
      });
      values.push({
        labels: { ...labels, le: "+Inf" },
        value: s.count,
        metricName: `${name}_bucket`,
      });
      values.push({ labels, value: s.sum, metricName: `${name}_sum` });
      values.push({ labels, value: s.count, metricName: `${name}_count` });
    }
    return values;
  }
}
