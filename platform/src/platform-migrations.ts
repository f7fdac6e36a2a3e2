import { type ColumnType, type Generated, type Kysely, type Migration, sql } from "kysely";

/**
 * One outbox row: an event written in the same transaction as the state change it describes,
 * waiting for the relay to publish it. `envelope` holds the exact bytes sent to Kafka.
 */
export interface OutboxTable {
  /** Publication order; bigint comes back from pg as a string. */
  id: Generated<string>;
  topic: string;
  aggregate_type: string;
  aggregate_id: string;
  /** 1, 2, 3, ... per aggregate: the order its writers committed in. */
  seq: ColumnType<string, string | number, never>;
  event_id: string;
  event_type: string;
  correlation_id: string | null;
  traceparent: string | null;
  envelope: Uint8Array;
  created_at: Generated<Date>;
  published_at: Date | null;
}

/** Last sequence number handed out per aggregate; its row lock orders that aggregate's writers. */
export interface OutboxSequenceTable {
  aggregate_type: string;
  aggregate_id: string;
  seq: ColumnType<string, string | number, string | number>;
}

/** Events a consumer has already applied; the primary key makes a redelivery a no-op. */
export interface InboxTable {
  consumer: string;
  event_id: string;
  processed_at: Generated<Date>;
}

/**
 * The tables every service database carries for the platform. Intersect it with the
 * service's own tables: `Kysely<OrderTables & PlatformTables>`.
 */
export interface PlatformTables {
  outbox: OutboxTable;
  outbox_sequence: OutboxSequenceTable;
  inbox: InboxTable;
}

const outbox: Migration = {
  async up(db: Kysely<unknown>) {
    // CACHE 1 (the default) matters: ids must be handed out in nextval() call order across
    // sessions, so that a writer serialised behind another one on the same aggregate always
    // receives the larger id. The relay publishes in id order.
    await sql`
      CREATE TABLE outbox (
        id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,
        topic text NOT NULL,
        aggregate_type text NOT NULL,
        aggregate_id text NOT NULL,
        seq bigint NOT NULL,
        event_id uuid NOT NULL,
        event_type text NOT NULL,
        correlation_id text,
        traceparent text,
        envelope bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        CONSTRAINT outbox_aggregate_seq_key UNIQUE (aggregate_type, aggregate_id, seq)
      )`.execute(db);
    await sql`CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL`.execute(
      db,
    );
    await sql`
      CREATE INDEX outbox_published_at_idx ON outbox (published_at)
      WHERE published_at IS NOT NULL`.execute(db);
    await sql`
      CREATE TABLE outbox_sequence (
        aggregate_type text NOT NULL,
        aggregate_id text NOT NULL,
        seq bigint NOT NULL,
        PRIMARY KEY (aggregate_type, aggregate_id)
      )`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP TABLE outbox_sequence`.execute(db);
    await sql`DROP TABLE outbox`.execute(db);
  },
};

const inbox: Migration = {
  async up(db: Kysely<unknown>) {
    // event_id is text, not uuid: a consumer must be able to record any producer's id rather
    // than fail forever on one it cannot parse.
    await sql`
      CREATE TABLE inbox (
        consumer text NOT NULL,
        event_id text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
      )`.execute(db);
    await sql`CREATE INDEX inbox_processed_at_idx ON inbox (processed_at)`.execute(db);
  },
  async down(db: Kysely<unknown>) {
    await sql`DROP TABLE inbox`.execute(db);
  },
};

/**
 * The migrations creating `PlatformTables`, for services to pass to `runMigrations` next to
 * their own. Named `000_platform_*` so they sort before service migrations on a fresh database;
 * later platform additions run unordered (the runner allows it), since they touch no service table.
 */
export const platformMigrations: Readonly<Record<string, Migration>> = {
  "000_platform_001_outbox": outbox,
  "000_platform_002_inbox": inbox,
};
