import type {
  NotificationChannel,
  NotificationType,
} from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import type { PlatformTables } from "@shopmesh/platform/platform-migrations";
import { type Generated, type Kysely, type Selectable, sql, type Transaction } from "kysely";
import { defaultPreferences, type Preferences } from "./domain/preferences.ts";
import type { MessageData } from "./domain/templates.ts";

/** A log entry's status; names match NotificationStatus without its prefix. */
export type LogStatus = "QUEUED" | "SENT" | "FAILED" | "SKIPPED_OPTED_OUT";

/** The address book, fed by user.* events. */
export interface RecipientsTable {
  user_id: string;
  email: string;
  name: string;
  updated_at: Generated<Date>;
}

/** A user's preferences; no row means the defaults. */
export interface PreferencesTable {
  user_id: string;
  disabled_types: number[];
  channels: number[];
  updated_at: Date;
}

/** The delivery log: one row per (source event, type, channel). */
export interface NotificationsTable {
  id: string;
  user_id: string;
  channel: number;
  type: number;
  /** The address it went (or goes) to; empty until known. */
  recipient: string;
  subject: string;
  status: LogStatus;
  failure_reason: Generated<string>;
  source_event_id: string;
  source_event_type: string;
  data: MessageData;
  attempts: Generated<number>;
  next_attempt_at: Generated<Date>;
  /** Set while a sender holds the row; see dispatcher.ts for the crash window. */
  send_started_at: Date | null;
  created_at: Generated<Date>;
  sent_at: Date | null;
}

/** Every table of the notifications database. */
export interface NotificationDatabase extends PlatformTables {
  recipients: RecipientsTable;
  preferences: PreferencesTable;
  notifications: NotificationsTable;
}

/** The database handle, or a transaction on it. */
export type Db = Kysely<NotificationDatabase> | Transaction<NotificationDatabase>;

/** A log row as read back. */
export type NotificationRow = Selectable<NotificationsTable>;

/** Saves the latest address and name of a user. */
export async function upsertRecipient(
  db: Db,
  r: { userId: string; email: string; name: string },
): Promise<void> {
  await db
    .insertInto("recipients")
    .values({ user_id: r.userId, email: r.email, name: r.name })
    .onConflict((oc) =>
      oc.column("user_id").doUpdateSet({ email: r.email, name: r.name, updated_at: sql`now()` }),
    )
    .execute();
}

/** The address book entry of a user. */
export async function findRecipient(
  db: Db,
  userId: string,
): Promise<{ email: string; name: string } | undefined> {
  return db
    .selectFrom("recipients")
    .select(["email", "name"])
    .where("user_id", "=", userId)
    .executeTakeFirst();
}

/** A user's preferences, or the defaults. */
export async function loadPreferences(db: Db, userId: string): Promise<Preferences> {
  const row = await db
    .selectFrom("preferences")
    .selectAll()
    .where("user_id", "=", userId)
    .executeTakeFirst();
  if (!row) return defaultPreferences(userId);
  return {
    userId,
    disabledTypes: row.disabled_types as NotificationType[],
    channels: row.channels as NotificationChannel[],
    updatedAt: row.updated_at,
  };
}

/** Saves a user's preferences. */
export async function savePreferences(db: Db, p: Preferences): Promise<void> {
  const values = {
    user_id: p.userId,
    disabled_types: [...p.disabledTypes],
    channels: [...p.channels],
    updated_at: p.updatedAt ?? new Date(),
  };
  await db
    .insertInto("preferences")
    .values(values)
    .onConflict((oc) => oc.column("user_id").doUpdateSet(values))
    .execute();
}

/** Adds a log entry unless the same event already produced this type on this channel. */
export async function insertNotification(
  db: Db,
  row: Omit<
    NotificationsTable,
    "failure_reason" | "attempts" | "next_attempt_at" | "created_at" | "sent_at" | "send_started_at"
  > & {
    failure_reason?: string;
  },
): Promise<boolean> {
  const inserted = await db
    .insertInto("notifications")
    .values({ ...row, send_started_at: null, sent_at: null })
    .onConflict((oc) => oc.constraint("notifications_once_per_event").doNothing())
    .returning("id")
    .executeTakeFirst();
  return inserted !== undefined;
}

/** One page of a user's log, newest first, after the cursor id. */
export async function listNotifications(
  db: Db,
  query: { userId: string; type?: number; status?: LogStatus; afterId?: string; limit: number },
): Promise<{ rows: NotificationRow[]; total: number }> {
  let base = db.selectFrom("notifications").where("user_id", "=", query.userId);
  if (query.type !== undefined) base = base.where("type", "=", query.type);
  if (query.status !== undefined) base = base.where("status", "=", query.status);
  let page = base.selectAll().orderBy("id", "desc").limit(query.limit);
  if (query.afterId) page = page.where("id", "<", query.afterId);
  const [rows, count] = await Promise.all([
    page.execute(),
    base.select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}
