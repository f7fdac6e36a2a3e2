import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { fromJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import type { Kafka } from "kafkajs";
import { sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { Registry } from "prom-client";
import { createKafka, ensureTopics } from "../src/kafka.ts";
import { appendToOutbox, NOTIFY_INTERVAL_MS } from "../src/outbox.ts";
import {
  type OutboxRelay,
  type OutboxRelayOptions,
  startOutboxRelay,
} from "../src/outbox-relay.ts";
import type { PlatformTables } from "../src/platform-migrations.ts";
import {
  createTestDatabase,
  sleep,
  type TestDatabase,
  uniqueName,
  waitFor,
} from "./fixtures/outbox/support.ts";

const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
let kafka: Kafka;
let topic: string;
let t: TestDatabase<PlatformTables>;
const relays: OutboxRelay[] = [];

before(async () => {
  t = await createTestDatabase<PlatformTables>("shopmesh_test_relay");
  kafka = createKafka({ clientId: "outbox-relay-test", logger });
  topic = uniqueName("shopmesh-test-relay");
  await ensureTopics(kafka, [{ topic, numPartitions: 2 }]);
});

after(async () => {
  for (const relay of relays) await relay.stop();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
  await t?.drop();
});

function relay(options: Partial<OutboxRelayOptions> = {}): OutboxRelay {
  const r = startOutboxRelay({ connection: t.connection, kafka, logger, ...options });
  relays.push(r);
  return r;
}

async function stopAll() {
  for (const r of relays.splice(0)) await r.stop();
}

async function append(aggregateId: string, db = t.db): Promise<string> {
  const [appended] = await db.transaction().execute((trx) =>
    appendToOutbox(trx, {
      topic,
      aggregateType: "test",
      aggregateId,
      eventType: "test.happened",
      producer: "outbox-relay-test",
      payloadSchema: StructSchema,
      payload: fromJson(StructSchema, {}),
    }),
  );
  return appended!.id;
}

async function rowState(id: string, db = t.db): Promise<"pending" | "published" | "gone"> {
  const row = await db
    .selectFrom("outbox")
    .select("published_at")
    .where("id", "=", id)
    .executeTakeFirst();
  if (!row) return "gone";
  return row.published_at ? "published" : "pending";
}

async function counter(registry: Registry, name: string): Promise<number> {
  const metric = registry.getSingleMetric(name);
  return (await metric?.get())?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
}

describe("outbox relay", { timeout: 60_000 }, () => {
  afterEach(stopAll);

  test("wakes on NOTIFY at commit, not by polling: idle it reads nothing, a commit is out in well under a second", async () => {
    const registry = new Registry();
    const r = relay({ pollIntervalMs: 60_000, registry });
    await waitFor("the relay active", () => r.isActive(), 10_000, 20);
    await sleep(300);

    const readsBefore = await counter(registry, "outbox_relay_reads_total");
    await sleep(2_000);
    assert.equal(
      await counter(registry, "outbox_relay_reads_total"),
      readsBefore,
      "no reads while idle",
    );

    const committed = Date.now();
    const id = await append("notified");
    await waitFor("the row published", async () => (await rowState(id)) === "published", 5_000, 10);
    const latency = Date.now() - committed;
    assert.ok(latency < 1_000, `published ${latency} ms after commit`);
    assert.equal(await counter(registry, "outbox_published_total"), 1);
  });

  test("publishes a row whose writer skipped the NOTIFY (throttled) by its follow-up read, not the safety poll", async () => {
    const r = relay({ pollIntervalMs: 60_000 });
    await waitFor("the relay active", () => r.isActive(), 10_000, 20);
    await sleep(NOTIFY_INTERVAL_MS * 2);

    const first = await append("notifies");
    // Appended within NOTIFY_INTERVAL_MS of the first, so no NOTIFY; commits a little later.
    const [second] = await t.db.transaction().execute(async (trx) => {
      const appended = await appendToOutbox(trx, {
        topic,
        aggregateType: "test",
        aggregateId: "throttled",
        eventType: "test.happened",
        producer: "outbox-relay-test",
        payloadSchema: StructSchema,
        payload: fromJson(StructSchema, {}),
      });
      await sleep(30);
      return appended;
    });
    const committed = Date.now();

    await waitFor(
      "the throttled row published",
      async () => (await rowState(second!.id)) === "published",
      5_000,
      10,
    );
    assert.ok(Date.now() - committed < 1_000, "published long before the 60 s safety poll");
    assert.equal(await rowState(first), "published");
  });

  test("publishes nothing of a transaction before it commits, and finds un-notified rows by the safety poll", async () => {
    const r = relay({ pollIntervalMs: 200 });
    await waitFor("the relay active", () => r.isActive(), 10_000, 20);
    const client = new pg.Client(t.connection);
    await client.connect();
    try {
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO outbox (topic, aggregate_type, aggregate_id, seq, event_id, event_type, envelope)
         VALUES ($1, 'test', 'open-tx', 1, gen_random_uuid(), 'test.happened', '\\x'::bytea)`,
        [topic],
      );
      await sleep(700);
      const { rows } = await sql<{ n: string }>`
        SELECT count(*) AS n FROM outbox WHERE published_at IS NOT NULL AND aggregate_id = 'open-tx'`.execute(
        t.db,
      );
      assert.equal(rows[0]?.n, "0");
      await client.query("COMMIT");
      await waitFor(
        "the committed row published",
        async () =>
          (
            await sql<{ n: string }>`
              SELECT count(*) AS n FROM outbox
              WHERE published_at IS NOT NULL AND aggregate_id = 'open-tx'`.execute(t.db)
          ).rows[0]?.n === "1",
        5_000,
        20,
      );
    } finally {
      await client.end();
    }
  });

  test("only one relay per database is active; a standby takes over when the active one's session dies", async () => {
    const a = relay({ standbyRetryMs: 100 });
    const b = relay({ standbyRetryMs: 100 });
    await waitFor("one relay active", () => a.isActive() || b.isActive(), 10_000, 20);
    for (let i = 0; i < 20; i++) {
      assert.notEqual(a.isActive(), b.isActive(), "exactly one relay active");
      await sleep(25);
    }
    const [holder, standby] = a.isActive() ? [a, b] : [b, a];

    const admin = new pg.Client({ database: "postgres" });
    await admin.connect();
    try {
      const { rowCount } = await admin.query(
        `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
         WHERE l.locktype = 'advisory' AND l.granted AND d.datname = $1`,
        [t.name],
      );
      assert.equal(rowCount, 1, "one session holds the relay lock");
    } finally {
      await admin.end();
    }
    await waitFor("the standby active", () => standby.isActive(), 5_000, 20);
    await sleep(1_000);
    assert.equal(holder.isActive(), false, "the old holder came back as a standby");

    const id = await append("after-takeover");
    await waitFor(
      "published by the new holder",
      async () => (await rowState(id)) === "published",
      5_000,
    );
  });

  test("stop() in the middle of a backlog finishes the batch in flight: every record sent is marked published", async () => {
    const stopTopic = uniqueName("shopmesh-test-relay-stop");
    await ensureTopics(kafka, [{ topic: stopTopic, numPartitions: 3 }]);
    try {
      await t.db.transaction().execute((trx) =>
        appendToOutbox(
          trx,
          Array.from({ length: 20_000 }, (_, i) => ({
            topic: stopTopic,
            aggregateType: "test",
            aggregateId: `backlog-${i % 50}`,
            eventType: "test.happened",
            producer: "outbox-relay-test",
            payloadSchema: StructSchema,
            payload: fromJson(StructSchema, { i }),
          })),
        ),
      );
      const r = relay({ batchSize: 500 });
      const published = async () =>
        Number(
          (
            await sql<{ n: string }>`
              SELECT count(*) AS n FROM outbox WHERE topic = ${stopTopic} AND published_at IS NOT NULL`.execute(
              t.db,
            )
          ).rows[0]?.n,
        );
      await waitFor("a few batches out", async () => (await published()) >= 1_000, 20_000, 5);
      await r.stop();

      const admin = kafka.admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(stopTopic);
      await admin.disconnect();
      const sent = offsets.reduce((sum, p) => sum + Number(p.high), 0);
      const marked = await published();
      assert.ok(marked < 20_000, "stopped before the backlog was done");
      assert.equal(sent, marked, "records in Kafka = rows marked published");
    } finally {
      // The rest of the backlog would block later relays once its topic is gone.
      await t.db.deleteFrom("outbox").where("topic", "=", stopTopic).execute();
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [stopTopic] }).catch(() => {});
      await admin.disconnect();
    }
  });

  /**
   * Runs `scenario` against a relay on a database of its own whose outbox starts empty and is
   * never vacuumed (autovacuum would analyze the table, planning the relay's statements anew, and
   * clean the index entries of published rows), then stops the relay and resolves to what its
   * session read from the outbox: the statistics Postgres flushes when a session ends.
   */
  async function relaySessionReads(
    scenario: (
      db: TestDatabase<PlatformTables>["db"],
      publishOne: (key: string) => Promise<void>,
    ) => Promise<void>,
  ) {
    const fresh = await createTestDatabase<PlatformTables>("shopmesh_test_relay_reads");
    try {
      await sql`ALTER TABLE outbox SET (autovacuum_enabled = false)`.execute(fresh.db);
      const r = relay({ connection: fresh.connection });
      await waitFor("the relay active", () => r.isActive(), 10_000, 20);
      await scenario(fresh.db, async (key) => {
        const id = await append(key, fresh.db);
        const published = async () => (await rowState(id, fresh.db)) === "published";
        await waitFor(`${key} published`, published, 5_000, 10);
      });
      await stopAll();
      const reads = async () =>
        (
          await sql<{ sessions: number; seq_tup_read: number; unpublished_entries_read: number }>`
            SELECT (SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = 'outbox-relay')::int
                     AS sessions,
                   t.seq_tup_read::int AS seq_tup_read,
                   i.idx_tup_read::int AS unpublished_entries_read
            FROM pg_stat_user_tables t
            JOIN pg_stat_user_indexes i ON i.relid = t.relid AND i.indexrelname = 'outbox_unpublished_idx'
            WHERE t.relname = 'outbox'`.execute(fresh.db)
        ).rows[0]!;
      await waitFor("the relay's session gone", async () => (await reads()).sessions === 0, 5_000);
      return await reads();
    } finally {
      await fresh.drop();
    }
  }

  test("still reads the outbox through its indexes once it has grown from empty to 20,000 retained rows in one relay session", async () => {
    const { seq_tup_read } = await relaySessionReads(async (db, publishOne) => {
      // With the outbox a page or two, each of the relay's statements runs more than five
      // times: enough for Postgres to settle on a generic plan if it is allowed to.
      for (let i = 0; i < 12; i++) await publishOne(`small-${i}`);
      await sql`
        INSERT INTO outbox (topic, aggregate_type, aggregate_id, seq, event_id, event_type,
                            envelope, published_at)
        SELECT ${topic}, 'test', 'retained-' || g, 1, gen_random_uuid(), 'test.happened',
               '\\x00'::bytea, now()
        FROM generate_series(1, 20000) g`.execute(db);
      for (let i = 0; i < 6; i++) await publishOne(`large-${i}`);
    });
    assert.ok(
      seq_tup_read < 20_000,
      `the relay's statements read ${seq_tup_read} rows by sequential scans: at least one read the whole outbox`,
    );
  });

  test("reads past the index entries of rows it published without visiting them on every read: 3,000 out, then 20 more one at a time", async () => {
    const { unpublished_entries_read } = await relaySessionReads(async (db, publishOne) => {
      const burst = await db.transaction().execute((trx) =>
        appendToOutbox(
          trx,
          Array.from({ length: 3_000 }, (_, i) => ({
            topic,
            aggregateType: "test",
            aggregateId: `burst-${i % 50}`,
            eventType: "test.happened",
            producer: "outbox-relay-test",
            payloadSchema: StructSchema,
            payload: fromJson(StructSchema, {}),
          })),
        ),
      );
      // The relay publishes and marks in id order: the last row marked, the burst is out.
      const last = burst.at(-1)!.id;
      const lastPublished = async () => (await rowState(last, db)) === "published";
      await waitFor("the burst published", lastPublished, 20_000, 20);
      for (let i = 0; i < 20; i++) await publishOne(`after-${i}`);
    });
    // Each published row leaves a dead entry in the unpublished index until vacuum. Visited on
    // every read, the 3,000 are read at least 20 times over (measured: 156,000 entries by bitmap
    // scans, 23,000 by index scans, which mark them dead as they pass).
    assert.ok(
      unpublished_entries_read < 60_000,
      `the relay's reads returned ${unpublished_entries_read} entries of the unpublished index`,
    );
  });

  test("deletes published rows once they are older than the retention", async () => {
    const r = relay({ retentionMs: 300, purgeIntervalMs: 100 });
    await waitFor("the relay active", () => r.isActive(), 10_000, 20);
    const id = await append("retained");
    await waitFor("published", async () => (await rowState(id)) === "published", 5_000, 10);
    await waitFor("purged", async () => (await rowState(id)) === "gone", 5_000, 50);
    await stopAll();

    const immediate = relay({ retentionMs: 0 });
    await waitFor("the relay active", () => immediate.isActive(), 10_000, 20);
    const next = await append("not-retained");
    await waitFor("deleted on publish", async () => (await rowState(next)) === "gone", 5_000, 10);
  });
});
