import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The Prometheus metrics of the outbox relay. */
export interface RelayMetrics {
  /** Events published to Kafka and marked. */
  published: Counter;
  /** Age in seconds of the oldest unpublished row at the last read; 0 when drained. */
  lag: Gauge;
  /** 1 while this process holds the relay lock, else 0. */
  active: Gauge;
  /** Read + publish + mark time per batch. */
  batchSeconds: Histogram;
  /** Failed attempts by stage: publish (Kafka) or database. */
  errors: Counter<"stage">;
  /** Outbox reads by result (rows, empty): shows the relay is not polling busily. */
  reads: Counter<"result">;
}

const byRegistry = new WeakMap<Registry, RelayMetrics>();

/**
 * The relay metrics registered in `registry`, created on first use. Memoised per registry
 * because prom-client refuses a name twice and a process may run several relays (tests do);
 * alert on `outbox_relay_lag_seconds` staying high, which means events are not leaving.
 */
export function relayMetrics(registry: Registry): RelayMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    const registers = [registry];
    metrics = {
      published: new Counter({
        name: "outbox_published_total",
        help: "Outbox events published to Kafka and marked published.",
        registers,
      }),
      lag: new Gauge({
        name: "outbox_relay_lag_seconds",
        help: "Age of the oldest unpublished outbox row at the relay's last read (0 when drained).",
        registers,
      }),
      active: new Gauge({
        name: "outbox_relay_active",
        help: "1 while this process holds the database's relay lock and publishes.",
        registers,
      }),
      batchSeconds: new Histogram({
        name: "outbox_relay_batch_seconds",
        help: "Time to read, publish and mark one outbox batch.",
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
      errors: new Counter({
        name: "outbox_relay_errors_total",
        help: "Failed relay attempts, by stage (publish or database); each is retried.",
        labelNames: ["stage"],
        registers,
      }),
      reads: new Counter({
        name: "outbox_relay_reads_total",
        help: "Reads of unpublished outbox rows, by result (rows or empty).",
        labelNames: ["result"],
        registers,
      }),
    };
    byRegistry.set(registry, metrics);
  }
  return metrics;
}
