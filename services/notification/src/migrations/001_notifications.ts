import { type Kysely, sql } from "kysely";

/** The address book, preferences and the delivery log. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE recipients (
      user_id uuid PRIMARY KEY,
      email text NOT NULL,
      name text NOT NULL DEFAULT '',
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE preferences (
      user_id uuid PRIMARY KEY,
      disabled_types int[] NOT NULL DEFAULT '{}',
      channels int[] NOT NULL DEFAULT '{1}',
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE notifications (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL,
      channel int NOT NULL,
      type int NOT NULL,
      recipient text NOT NULL DEFAULT '',
      subject text NOT NULL,
      status text NOT NULL CHECK (status IN ('QUEUED', 'SENT', 'FAILED', 'SKIPPED_OPTED_OUT')),
      failure_reason text NOT NULL DEFAULT '',
      source_event_id text NOT NULL,
      source_event_type text NOT NULL,
      data jsonb NOT NULL,
      attempts int NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      send_started_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      sent_at timestamptz,
      CONSTRAINT notifications_once_per_event UNIQUE (source_event_id, type, channel)
    )`.execute(db);
  await sql`CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC)`.execute(db);
  await sql`CREATE INDEX notifications_due_idx ON notifications (next_attempt_at)
            WHERE status = 'QUEUED' AND send_started_at IS NULL`.execute(db);
}
