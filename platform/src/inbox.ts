import { type Kysely, sql, type Transaction } from "kysely";
import type { PlatformTables } from "./platform-migrations.ts";

/** Outcome of `handleOnce`: the effect's result, or `applied: false` for a redelivery. */
export type HandleOnceResult<T> = { applied: true; result: T } | { applied: false };

/**
 * Applies an event's effect at most once per consumer: records `(consumer, eventId)` in the
 * inbox and runs `fn` in the same transaction. A redelivered event finds its inbox row and
 * changes nothing, so the caller acknowledges it; if `fn` throws, the effect and the inbox row
 * roll back together and a later delivery tries again.
 *
 * The inbox row is inserted before `fn` runs: a concurrent duplicate delivery then waits on
 * the primary key and skips, instead of running the effect twice and failing at the end.
 * `db` must be the root instance (not a transaction); this opens its own.
 */
export async function handleOnce<DB extends PlatformTables, T>(
  db: Kysely<DB>,
  consumer: string,
  eventId: string,
  fn: (trx: Transaction<DB>) => Promise<T>,
): Promise<HandleOnceResult<T>> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql`
      INSERT INTO inbox (consumer, event_id) VALUES (${consumer}, ${eventId})
      ON CONFLICT DO NOTHING RETURNING 1 AS fresh`.execute(trx);
    if (rows.length === 0) return { applied: false } as const;
    return { applied: true, result: await fn(trx) } as const;
  });
}

/** An event as a consumer's inbox knows it: applied at most once per consumer. */
export interface InboxKey {
  consumer: string;
  eventId: string;
}

/**
 * The inbox for a change made in ONE statement (see `changeWithOutbox`), where `handleOnce`'s
 * transaction would cost BEGIN, the inbox insert and COMMIT as round trips of their own.
 * `unhandled` goes into the change's WHERE, so a redelivery matches nothing; `record(cte)` is
 * a CTE to add after the change's own, which records the event only when that CTE returned a
 * row. A duplicate that committed concurrently makes the statement fail on the inbox's primary
 * key (`isDuplicate(err)`), which rolls the change back with it: at most once, without locks.
 */
export function inboxOnce({ consumer, eventId }: InboxKey) {
  return {
    unhandled: sql<boolean>`NOT EXISTS (
      SELECT 1 FROM inbox WHERE consumer = ${consumer} AND event_id = ${eventId})`,
    record: (cte: string) => sql`inbox_recorded AS (
      INSERT INTO inbox (consumer, event_id) SELECT ${consumer}, ${eventId} FROM ${sql.table(cte)})`,
    /** Whether `err` is the unique violation of a concurrent duplicate delivery. */
    isDuplicate: (err: unknown) => {
      const e = err as { code?: string; constraint?: string } | null;
      return e?.code === "23505" && e.constraint === "inbox_pkey";
    },
  };
}

/**
 * `handleOnce` for a batch: records every event id in one statement and runs `fn` once, in
 * the same transaction, with only the ids this consumer has not applied before (in the given
 * order). For consumers whose effects can be applied in bulk (projections, analytics), where a
 * transaction per event would cap throughput. All or nothing: if `fn` throws, no id is recorded.
 */
export async function handleBatchOnce<DB extends PlatformTables, T>(
  db: Kysely<DB>,
  consumer: string,
  eventIds: readonly string[],
  fn: (trx: Transaction<DB>, freshIds: string[]) => Promise<T>,
): Promise<{ freshIds: string[]; result: T | undefined }> {
  if (eventIds.length === 0) return { freshIds: [], result: undefined };
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ event_id: string }>`
      INSERT INTO inbox (consumer, event_id)
      SELECT ${consumer}, id FROM unnest(${eventIds}::text[]) AS t(id)
      ON CONFLICT DO NOTHING RETURNING event_id`.execute(trx);
    const inserted = new Set(rows.map((r) => r.event_id));
    // A batch may itself repeat an id (a redelivery inside one fetch): apply it once.
    const freshIds = eventIds.filter((id) => inserted.delete(id));
    if (freshIds.length === 0) return { freshIds, result: undefined };
    return { freshIds, result: await fn(trx, freshIds) };
  });
}

/**
 * Deletes inbox rows older than `olderThan` and returns how many went. Keep rows at least as
 * long as Kafka keeps the topics consumed, or a replay after the purge would apply effects twice.
 */
export async function purgeInbox<DB extends PlatformTables>(
  db: Kysely<DB>,
  olderThan: Date,
): Promise<number> {
  const result = await (db as unknown as Kysely<PlatformTables>)
    .deleteFrom("inbox")
    .where("processed_at", "<", olderThan)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
