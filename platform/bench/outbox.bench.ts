/**
 * End-to-end throughput of the transactional outbox: concurrent writers commit events through
 * `appendToOutbox`, the relay (its own process, as in a service replica) publishes them with the
 * idempotent producer, and an idempotent consumer (`handleBatchOnce`, one transaction per
 * fetched partition batch) applies them. Measures events/s from the first write to the last
 * event applied, the writers' commit rate, and p50/p99 latency from an event's creation to its
 * application. Run alone with `tsx platform/bench/outbox.bench.ts`, or through
 * `npm run bench:platform`. Needs the local Postgres and Kafka (`npm run infra:up`).
 */
import { loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { fromJson } from "@bufbuild/protobuf";
import { StructSchema, timestampMs } from "@bufbuild/protobuf/wkt";
import { pino } from "pino";
import { handleBatchOnce } from "../src/inbox.ts";
import { createKafka, ensureTopics } from "../src/kafka.ts";
import { startConsumer } from "../src/kafka-consumer.ts";
import { appendToOutbox } from "../src/outbox.ts";
import type { PlatformTables } from "../src/platform-migrations.ts";
import { spawnRelay } from "../test/fixtures/outbox/relay-child.ts";
import { createTestDatabase, uniqueName, waitFor } from "../test/fixtures/outbox/support.ts";

/** One measured scenario. */
export interface OutboxBenchRow {
  name: string;
  events: number;
  writers: number;
  eventsPerTransaction: number;
  /** Events committed per second while the writers ran. */
  writeRate: number;
  /** Events per second from the first write to the last event applied by the consumer. */
  endToEndRate: number;
  /** Creation-to-application latency percentiles, milliseconds. */
  p50Ms: number;
  p99Ms: number;
  /** Kafka deliveries beyond one per event (absorbed by the inbox). */
  duplicates: number;
}

/** What the benchmark returns: rows, headline figures and a printable table. */
export interface OutboxBenchResult {
  name: string;
  rows: OutboxBenchRow[];
  figures: Record<string, number>;
  summary: string;
}

/** Knobs of one scenario; the defaults are the headline configuration. */
export interface OutboxScenario {
  name: string;
  events: number;
  writers: number;
  /** Events appended per transaction, all on one aggregate: a command emitting several events. */
  eventsPerTransaction: number;
  aggregates?: number;
  partitions?: number;
  relayBatchSize?: number;
  /** Relay retention of published rows; 0 deletes them on publish (default: the relay's). */
  retentionMs?: number;
}

const logger = pino({ level: process.env.LOG_LEVEL ?? "warn" });

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

/** Runs one scenario on a fresh database and topic and returns its figures. */
export async function measureOutbox(scenario: OutboxScenario): Promise<OutboxBenchRow> {
  const { events, writers, eventsPerTransaction } = scenario;
  // A connection per writer plus a few for the consumer, as a service sizes its pool.
  const database = await createTestDatabase<PlatformTables>(
    "shopmesh_bench_outbox",
    {},
    writers + 4,
  );
  const kafka = createKafka({ clientId: "outbox-bench", logger });
  const topic = uniqueName("shopmesh-bench-outbox");
  const groupId = uniqueName("shopmesh-bench-outbox");
  await ensureTopics(kafka, [{ topic, numPartitions: scenario.partitions ?? 6 }]);
  const relay = spawnRelay(database.name, {
    RELAY_BATCH_SIZE: String(scenario.relayBatchSize ?? 1000),
    ...(scenario.retentionMs === undefined
      ? {}
      : { RELAY_RETENTION_MS: String(scenario.retentionMs) }),
  });
  const latencies: number[] = [];
  let deliveries = 0;
  let lastApplied = 0;
  const consumer = await startConsumer({
    kafka,
    groupId,
    topics: [topic],
    fromBeginning: true,
    logger,
    partitionsConsumedConcurrently: 3,
    batchHandler: async (batch) => {
      deliveries += batch.length;
      const ids = batch.map((e) => e.envelope.eventId);
      const { freshIds } = await handleBatchOnce(database.db, "outbox-bench", ids, async () => {});
      const now = Date.now();
      const fresh = new Set(freshIds);
      for (const e of batch) {
        if (fresh.has(e.envelope.eventId) && e.envelope.occurredAt) {
          latencies.push(now - timestampMs(e.envelope.occurredAt));
        }
      }
      lastApplied = now;
    },
  });
  try {
    await relay.active();
    const aggregates = Array.from({ length: scenario.aggregates ?? 1000 }, (_, i) => `agg-${i}`);
    let claimed = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let n = 0; claimed < events; n++) {
          const size = Math.min(eventsPerTransaction, events - claimed);
          claimed += size;
          // One command on one aggregate emitting `size` events, as services write them.
          const aggregateId = aggregates[Math.floor(Math.random() * aggregates.length)]!;
          await database.db.transaction().execute((trx) =>
            appendToOutbox(
              trx,
              Array.from({ length: size }, (_, i) => ({
                topic,
                aggregateType: "bench",
                aggregateId,
                eventType: "bench.happened",
                producer: "outbox-bench",
                payloadSchema: StructSchema,
                payload: fromJson(StructSchema, { writer: w, n: n * eventsPerTransaction + i }),
              })),
            ),
          );
        }
      }),
    );
    const wrote = Date.now();
    await waitFor("every event applied", () => latencies.length >= events, 300_000, 5);
    latencies.sort((a, b) => a - b);
    return {
      name: scenario.name,
      events,
      writers,
      eventsPerTransaction,
      writeRate: events / ((wrote - started) / 1000),
      endToEndRate: events / ((lastApplied - started) / 1000),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      duplicates: deliveries - events,
    };
  } finally {
    await consumer.stop();
    await relay.kill("SIGTERM");
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect();
    await database.drop();
  }
}

/** The scenarios `runOutboxBench` measures by default. */
export const OUTBOX_SCENARIOS: readonly OutboxScenario[] = [
  { name: "1 event per transaction", events: 20_000, writers: 16, eventsPerTransaction: 1 },
  { name: "10 events per transaction", events: 50_000, writers: 8, eventsPerTransaction: 10 },
];

/** Load of the machine, which the benchmark shares with everything else running on it. */
function load(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(" / ");
}

/**
 * Measures the outbox pipeline for each scenario and returns the rows plus a printable table.
 * Headline figure: end-to-end events/s of the batched scenario (goal: at least 5,000/s on 2 cores).
 */
export async function runOutboxBench(
  scenarios: readonly OutboxScenario[] = OUTBOX_SCENARIOS,
): Promise<OutboxBenchResult> {
  const rows: OutboxBenchRow[] = [];
  const loadBefore = load();
  for (const scenario of scenarios) rows.push(await measureOutbox(scenario));
  const figures: Record<string, number> = {};
  for (const row of rows) figures[`${row.name}: end-to-end events/s`] = row.endToEndRate;
  const cell = (value: string | number, width: number) => String(value).padStart(width);
  const summary = [
    "outbox end to end: writers -> outbox -> relay (child process) -> Kafka -> idempotent consumer",
    `${"scenario".padEnd(28)}${cell("events", 8)}${cell("writers", 8)}${cell("write/s", 10)}${cell("e2e/s", 9)}${cell("p50 ms", 9)}${cell("p99 ms", 9)}${cell("dups", 6)}`,
    ...rows.map(
      (r) =>
        `${r.name.padEnd(28)}${cell(r.events, 8)}${cell(r.writers, 8)}${cell(r.writeRate.toFixed(0), 10)}${cell(r.endToEndRate.toFixed(0), 9)}${cell(r.p50Ms, 9)}${cell(r.p99Ms, 9)}${cell(r.duplicates, 6)}`,
    ),
    "goal: >= 5000 events/s end to end",
    `machine load average (1/5/15 min) before: ${loadBefore}, after: ${load()}`,
  ];
  return { name: "outbox", rows, figures, summary: summary.join("\n") };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await runOutboxBench();
  console.log(result.summary);
}
