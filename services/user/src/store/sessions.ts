import { sql } from "kysely";
import type { StoredRefreshToken } from "../domain/sessions.ts";
import type { Db } from "./tables.ts";

/** Starts a session whose first refresh token has hash `tokenHash`. */
export async function insertSession(
  db: Db,
  session: { id: string; userId: string; expiresAt: Date; tokenHash: Uint8Array },
): Promise<void> {
  await db
    .insertInto("sessions")
    .values({
      id: session.id,
      user_id: session.userId,
      expires_at: session.expiresAt,
      revoked_at: null,
      revoked_reason: null,
    })
    .execute();
  await addRefreshToken(db, session.id, session.tokenHash);
}

/** Adds the next refresh token of a session. */
export async function addRefreshToken(db: Db, sessionId: string, tokenHash: Uint8Array) {
  await db
    .insertInto("refresh_tokens")
    .values({ token_hash: tokenHash, session_id: sessionId, used_at: null })
    .execute();
}

/** A refresh token with its session, locking the session row against concurrent rotation. */
export async function findRefreshToken(
  db: Db,
  tokenHash: Uint8Array,
): Promise<(StoredRefreshToken & { sessionExpiresAt: Date }) | undefined> {
  const row = await db
    .selectFrom("refresh_tokens as t")
    .innerJoin("sessions as s", "s.id", "t.session_id")
    .select(["t.session_id", "t.used_at", "s.user_id", "s.expires_at", "s.revoked_at"])
    .where("t.token_hash", "=", tokenHash)
    .forUpdate("s")
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    sessionId: row.session_id,
    userId: row.user_id,
    usedAt: row.used_at,
    sessionExpiresAt: row.expires_at,
    sessionRevokedAt: row.revoked_at,
  };
}

/** Marks a token rotated; false when another request rotated it first. */
export async function markRefreshTokenUsed(db: Db, tokenHash: Uint8Array): Promise<boolean> {
  const result = await db
    .updateTable("refresh_tokens")
    .set({ used_at: sql<Date>`now()` })
    .where("token_hash", "=", tokenHash)
    .where("used_at", "is", null)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Revokes one session (idempotent). */
export async function revokeSession(db: Db, sessionId: string, reason: string): Promise<void> {
  await db
    .updateTable("sessions")
    .set({ revoked_at: sql<Date>`now()`, revoked_reason: reason })
    .where("id", "=", sessionId)
    .where("revoked_at", "is", null)
    .execute();
}

/** Revokes every live session of a user; returns how many. */
export async function revokeUserSessions(db: Db, userId: string, reason: string): Promise<number> {
  const result = await db
    .updateTable("sessions")
    .set({ revoked_at: sql<Date>`now()`, revoked_reason: reason })
    .where("user_id", "=", userId)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
