import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";

/** How long a verification code works (user_events.proto: 15 minutes). */
export const VERIFICATION_CODE_TTL_MS = 15 * 60_000;
/** Wrong guesses after which a code is burnt (user.proto: 5). */
export const VERIFICATION_MAX_ATTEMPTS = 5;
/** How long a password-reset token works (user.proto: 30 minutes). */
export const PASSWORD_RESET_TTL_MS = 30 * 60_000;

/** A uniformly random six-digit code, leading zeros kept. */
export function newVerificationCode(): string {
  return randomInt(0, 1_000_000).toString().padStart(6, "0");
}

/** A 256-bit random token in URL-safe base64 (43 characters): refresh and reset tokens. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * SHA-256 of a high-entropy token, which is what the database stores. A fast hash is right here:
 * 256 random bits cannot be guessed, and lookups by hash need a deterministic function.
 */
export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/**
 * Hash of a six-digit code, bound to its user so equal codes of two users differ at rest.
 * A million candidates are cheap to try offline, which is why codes also expire in 15 minutes
 * and burn after five wrong guesses online.
 */
export function hashVerificationCode(userId: string, code: string): Buffer {
  return createHash("sha256").update(`${userId}:${code}`, "utf8").digest();
}

/** Constant-time equality of two hashes. */
export function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A pending verification code as stored. */
export interface PendingCode {
  codeHash: Uint8Array;
  expiresAt: Date;
  failedAttempts: number;
}

/** What presenting a code does: accept it, count a wrong guess, or refuse outright. */
export type CodeCheck =
  | { result: "accepted" }
  | { result: "wrong"; burnt: boolean }
  | { result: "expired" }
  | { result: "none" };

/**
 * Decides a verification attempt. A wrong guess that reaches the attempt limit burns the code
 * (the caller deletes it), so the sixth guess meets "none" and must request a new code.
 */
export function checkVerificationCode(
  pending: PendingCode | undefined,
  presentedHash: Uint8Array,
  now: Date,
): CodeCheck {
  if (!pending || pending.failedAttempts >= VERIFICATION_MAX_ATTEMPTS) return { result: "none" };
  if (pending.expiresAt.getTime() <= now.getTime()) return { result: "expired" };
  if (sameHash(pending.codeHash, presentedHash)) return { result: "accepted" };
  return { result: "wrong", burnt: pending.failedAttempts + 1 >= VERIFICATION_MAX_ATTEMPTS };
}
