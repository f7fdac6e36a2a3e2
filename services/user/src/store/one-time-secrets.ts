import { sql } from "kysely";
import type { PendingCode } from "../domain/one-time-secrets.ts";
import type { Db } from "./tables.ts";

/** Stores a user's pending verification code, replacing (invalidating) any previous one. */
export async function replaceVerificationCode(
  db: Db,
  code: { userId: string; codeHash: Uint8Array; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto("email_verification_codes")
    .values({ user_id: code.userId, code_hash: code.codeHash, expires_at: code.expiresAt })
    .onConflict((oc) =>
      oc.column("user_id").doUpdateSet({
        code_hash: code.codeHash,
        expires_at: code.expiresAt,
        failed_attempts: 0,
        created_at: sql<Date>`now()`,
      }),
    )
    .execute();
}

/** The pending code of a user, locked for the attempt being decided. */
export async function findVerificationCode(
  db: Db,
  userId: string,
): Promise<PendingCode | undefined> {
  const row = await db
    .selectFrom("email_verification_codes")
    .select(["code_hash", "expires_at", "failed_attempts"])
    .where("user_id", "=", userId)
    .forUpdate()
    .executeTakeFirst();
  return (
    row && {
      codeHash: row.code_hash,
      expiresAt: row.expires_at,
      failedAttempts: row.failed_attempts,
    }
  );
}

/** Counts one wrong guess. */
export async function countWrongCode(db: Db, userId: string): Promise<void> {
  await db
    .updateTable("email_verification_codes")
    .set((eb) => ({ failed_attempts: eb("failed_attempts", "+", 1) }))
    .where("user_id", "=", userId)
    .execute();
}

/** Deletes a user's pending code (used or burnt). */
export async function deleteVerificationCode(db: Db, userId: string): Promise<void> {
  await db.deleteFrom("email_verification_codes").where("user_id", "=", userId).execute();
}

/** Stores a hashed password-reset token. */
export async function insertResetToken(
  db: Db,
  token: { userId: string; tokenHash: Uint8Array; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto("password_reset_tokens")
    .values({
      token_hash: token.tokenHash,
      user_id: token.userId,
      expires_at: token.expiresAt,
      used_at: null,
    })
    .execute();
}

/**
 * Uses a reset token: marks it used if it is unused and unexpired, in one statement so two
 * concurrent resets cannot both succeed. Returns its user, or undefined.
 */
export async function consumeResetToken(
  db: Db,
  tokenHash: Uint8Array,
): Promise<string | undefined> {
  const row = await db
    .updateTable("password_reset_tokens")
    .set({ used_at: sql<Date>`now()` })
    .where("token_hash", "=", tokenHash)
    .where("used_at", "is", null)
    .where("expires_at", ">", sql<Date>`now()`)
    .returning("user_id")
    .executeTakeFirst();
  return row?.user_id;
}

/** Invalidates every outstanding reset token of a user (after a reset or password change). */
export async function expireResetTokens(db: Db, userId: string): Promise<void> {
  await db
    .updateTable("password_reset_tokens")
    .set({ used_at: sql<Date>`now()` })
    .where("user_id", "=", userId)
    .where("used_at", "is", null)
    .execute();
}
