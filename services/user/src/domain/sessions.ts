/** A refresh token as stored, joined with its session. */
export interface StoredRefreshToken {
  sessionId: string;
  userId: string;
  usedAt: Date | null;
  sessionExpiresAt: Date;
  sessionRevokedAt: Date | null;
}

/** What presenting a refresh token leads to. */
export type RefreshDecision =
  | { action: "rotate" }
  | { action: "reject"; reason: "unknown" | "expired" | "revoked" }
  | { action: "revoke-session"; reason: "replay" };

/**
 * Decides a refresh. A token that was already rotated means two parties hold the same session
 * (the classic stolen-refresh-token case), and the only safe answer is ending it for both: the
 * whole family is revoked, so the thief's newer token dies with the victim's old one.
 */
export function decideRefresh(token: StoredRefreshToken | undefined, now: Date): RefreshDecision {
  if (!token) return { action: "reject", reason: "unknown" };
  if (token.sessionRevokedAt) return { action: "reject", reason: "revoked" };
  if (token.usedAt) return { action: "revoke-session", reason: "replay" };
  if (token.sessionExpiresAt.getTime() <= now.getTime())
    return { action: "reject", reason: "expired" };
  return { action: "rotate" };
}

/** Why a refresh was refused. */
export type RefreshRejection = "unknown" | "expired" | "revoked" | "replay";

/** The message an UNAUTHENTICATED refresh carries, without saying more than the caller needs. */
export function refreshRejection(reason: RefreshRejection): string {
  switch (reason) {
    case "replay":
      return "refresh token was already used; the session has been revoked, sign in again";
    case "expired":
      return "refresh token expired; sign in again";
    case "revoked":
      return "refresh token was revoked; sign in again";
    default:
      return "refresh token is not valid; sign in again";
  }
}
