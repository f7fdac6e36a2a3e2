import { sql } from "kysely";
import type { FailureWindow } from "../domain/login-throttle.ts";
import type { Db } from "./tables.ts";

/** Kinds of throttled events. */
export type AttemptKind =
  | "login_failure_email"
  | "login_failure_address"
  | "verification_sent"
  | "password_reset_sent";

/** Records one event of `kind` for `key`, now. */
export async function recordAttempt(db: Db, kind: AttemptKind, key: string): Promise<void> {
  await db.insertInto("auth_attempts").values({ kind, key }).execute();
}

/**
 * The `limit`-th most recent event of `kind` for `key` within the last `windowMs`, which is
 * the one whose expiry brings the key back under its limit.
 */
export async function failureWindow(
  db: Db,
  kind: AttemptKind,
  key: string,
  limit: number,
  windowMs: number,
): Promise<FailureWindow> {
  const row = await db
    .selectFrom("auth_attempts")
    .select("at")
    .where("kind", "=", kind)
    .where("key", "=", key)
    .where("at", ">", sql<Date>`now() - make_interval(secs => ${windowMs / 1000})`)
    .orderBy("at", "desc")
    .offset(limit - 1)
    .limit(1)
    .executeTakeFirst();
  return { limitingFailureAt: row?.at };
}

/** How many events of `kind` for `key` happened in the last `windowMs`. */
export async function countAttempts(
  db: Db,
  kind: AttemptKind,
  key: string,
  windowMs: number,
): Promise<number> {
  const row = await db
    .selectFrom("auth_attempts")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("kind", "=", kind)
    .where("key", "=", key)
    .where("at", ">", sql<Date>`now() - make_interval(secs => ${windowMs / 1000})`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Forgets the events of `kind` for `key` (a successful login, an admin unlock). */
export async function clearAttempts(db: Db, kind: AttemptKind, key: string): Promise<void> {
  await db.deleteFrom("auth_attempts").where("kind", "=", kind).where("key", "=", key).execute();
}

/** Deletes events older than any window looks at; run now and then. */
export async function purgeAttempts(db: Db, olderThanMs: number): Promise<void> {
  await db
    .deleteFrom("auth_attempts")
    .where("at", "<", sql<Date>`now() - make_interval(secs => ${olderThanMs / 1000})`)
    .execute();
}
