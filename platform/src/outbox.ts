import type { DescMessage } from "@bufbuild/protobuf";
import { type Kysely, type RawBuilder, sql, type Transaction } from "kysely";
import { type EncodedEvent, encodeEvent, type NewEvent } from "./event-envelope.ts";
import type { PlatformTables } from "./platform-migrations.ts";

/** The NOTIFY channel writers signal on and the relay listens to. */
export const OUTBOX_CHANNEL = "shopmesh_outbox";

/**
 * Shortest gap between two NOTIFYs from one process to one database. Postgres serialises the
 * commits of all notifying transactions in the cluster behind one lock held through the WAL
 * flush, which turns off group commit: measured on the 2-core dev box, 8 writers committing one row each ran 795
 * transactions/s with a NOTIFY in every transaction and 2,034 without. So a transaction
 * appending within this window after another one to the same database skips the NOTIFY: the
 * relay re-reads shortly after every wake-up (see `followUpMs` in outbox-relay), which catches
 * such rows, and its safety poll bounds the rare leftovers (a notifying transaction that rolled
 * back, or one committing long after its append).
 */
export const NOTIFY_INTERVAL_MS = 20;

/**
 * Last NOTIFY time per Kysely instance (one per database), keyed by its dialect adapter: every
 * transaction of an instance shares that object. Per instance rather than per process, so a
 * process writing two databases cannot starve one relay of notifications with the other's.
 */
const lastNotifyAt = new WeakMap<object, number>();

/** Where an appended event landed: its publication position and its place in its aggregate. */
export interface AppendedEvent {
  eventId: string;
  /** Outbox row id (bigint as a string): the relay publishes in this order. */
  id: string;
  /** 1-based position of the event among its aggregate's events. */
  seq: number;
}

/**
 * Writes events to the outbox inside the caller's transaction, so the state change and its
 * events commit or roll back together; the relay publishes them after commit.
 *
 * Ordering per aggregate: the statement first bumps the aggregate's row in `outbox_sequence`
 * (INSERT ... ON CONFLICT DO UPDATE). That row lock is held to commit, so a second writer of the
 * same aggregate waits, and only then takes its outbox id: for one aggregate, id order is
 * commit order, and the relay publishes in id order. Aggregates are locked in sorted order, so
 * two calls touching the same aggregates cannot deadlock each other. `pg_notify` in the same
 * statement wakes the relay (Postgres delivers it only at commit), at most once per
 * `NOTIFY_INTERVAL_MS` per database and process.
 *
 * Several events per call are one round trip; pass them together when a command emits more
 * than one.
 */
export async function appendToOutbox<DB extends PlatformTables>(
  trx: Transaction<DB>,
  events: NewEvent<DescMessage> | readonly NewEvent<DescMessage>[],
): Promise<AppendedEvent[]> {
  if (!trx.isTransaction) {
    throw new Error("appendToOutbox needs the transaction that makes the state change");
  }
  const list = Array.isArray(events) ? events : [events as NewEvent<DescMessage>];
  if (list.length === 0) return [];
  const encoded = list.map(encodeEvent);
  return appendEncoded(trx, encoded);
}

/**
 * A state change and its events in ONE statement: one round trip, atomic without an explicit
 * transaction (BEGIN and COMMIT are round trips too). `change` is the WITH list of the change
 * (data-modifying CTEs, e.g. sql`changed AS (UPDATE ... WHERE version = ... RETURNING ...)`);
 * `result` a query over them whose rows say the change happened. The events are appended only
 * when `result` has a row, so a guarded change that matched nothing (a lost optimistic race)
 * appends nothing. Resolves to `result`'s rows. Same ordering and NOTIFY rules as
 * {@link appendToOutbox}; `db` may be the root instance or a transaction.
 */
export async function changeWithOutbox<R extends object, DB extends PlatformTables>(
  db: Kysely<DB>,
  statement: { change: RawBuilder<unknown>; result: RawBuilder<R> },
  events: readonly NewEvent<DescMessage>[],
): Promise<R[]> {
  const outbox =
    events.length === 0
      ? sql`SELECT change_result.* FROM change_result`
      : sql`, ${outboxCtes(db as Kysely<unknown>, events.map(encodeEvent), sql`EXISTS (SELECT 1 FROM change_result)`)}
    SELECT change_result.* FROM change_result, outbox_notified`;
  const { rows } = await sql<R>`
    WITH ${statement.change},
    change_result AS (${statement.result})
    ${outbox}
  `.execute(db);
  return rows;
}

/** Whether this append should NOTIFY; see NOTIFY_INTERVAL_MS. */
function claimNotify(trx: Kysely<unknown>): boolean {
  const key = trx.getExecutor().adapter;
  const now = performance.now();
  if (now - (lastNotifyAt.get(key) ?? Number.NEGATIVE_INFINITY) < NOTIFY_INTERVAL_MS) return false;
  lastNotifyAt.set(key, now);
  return true;
}

/**
 * The outbox append as CTEs (`outbox_input` ... `outbox_inserted`, `outbox_notified`) for a
 * WITH list: events are numbered per aggregate after the `outbox_sequence` bump, and appended
 * only when `guard` (an SQL boolean) holds. `outbox_notified` is a plain SELECT: the statement
 * must read it, or Postgres never runs it.
 */
function outboxCtes(db: Kysely<unknown>, events: readonly EncodedEvent[], guard = sql`true`) {
  const col = <K extends keyof EncodedEvent>(key: K) => events.map((e) => e[key] ?? null);
  return sql`
    outbox_input AS (
      SELECT * FROM unnest(
        ${col("topic")}::text[], ${col("aggregateType")}::text[], ${col("aggregateId")}::text[],
        ${col("eventId")}::uuid[], ${col("eventType")}::text[], ${col("correlationId")}::text[],
        ${col("traceparent")}::text[], ${col("envelope")}::bytea[]
      ) WITH ORDINALITY AS t(topic, aggregate_type, aggregate_id, event_id, event_type,
                             correlation_id, traceparent, envelope, ord)
      WHERE ${guard}
    ),
    outbox_counts AS (
      SELECT aggregate_type, aggregate_id, count(*) AS n
      FROM outbox_input GROUP BY aggregate_type, aggregate_id
    ),
    outbox_seqs AS (
      INSERT INTO outbox_sequence AS s (aggregate_type, aggregate_id, seq)
      SELECT aggregate_type, aggregate_id, n FROM outbox_counts ORDER BY aggregate_type, aggregate_id
      ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET seq = s.seq + excluded.seq
      RETURNING aggregate_type, aggregate_id, seq AS last_seq
    ),
    outbox_inserted AS (
      INSERT INTO outbox (topic, aggregate_type, aggregate_id, seq, event_id, event_type,
                          correlation_id, traceparent, envelope)
      SELECT i.topic, i.aggregate_type, i.aggregate_id,
             q.last_seq - c.n + row_number() OVER (
               PARTITION BY i.aggregate_type, i.aggregate_id ORDER BY i.ord),
             i.event_id, i.event_type, i.correlation_id, i.traceparent, i.envelope
      FROM outbox_input i
      JOIN outbox_seqs q USING (aggregate_type, aggregate_id)
      JOIN outbox_counts c USING (aggregate_type, aggregate_id)
      ORDER BY i.ord
      RETURNING id, seq, event_id
    ),
    outbox_notified AS (
      SELECT CASE WHEN ${claimNotify(db)}::boolean AND EXISTS (SELECT 1 FROM outbox_inserted)
        THEN pg_notify(${OUTBOX_CHANNEL}, '') END AS done)`;
}

/** Appends several encoded events in one statement. */
async function appendEncoded<DB extends PlatformTables>(
  trx: Kysely<DB>,
  events: readonly EncodedEvent[],
): Promise<AppendedEvent[]> {
  const { rows } = await sql<{ id: string; seq: string; event_id: string }>`
    WITH ${outboxCtes(trx as Kysely<unknown>, events)}
    SELECT inserted.id, inserted.seq, inserted.event_id
    FROM outbox_inserted inserted, outbox_notified
  `.execute(trx);
  const byEventId = new Map(rows.map((r) => [r.event_id, r]));
  return events.map((e) => {
    const row = byEventId.get(e.eventId.toLowerCase());
    if (!row) throw new Error(`outbox insert returned no row for event ${e.eventId}`);
    return { eventId: e.eventId, id: row.id, seq: Number(row.seq) };
  });
}
