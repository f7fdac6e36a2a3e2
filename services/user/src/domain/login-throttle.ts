/** Limits of the login throttle: failures allowed per key within a sliding window. */
export interface ThrottleLimits {
  maxFailuresPerEmail: number;
  maxFailuresPerAddress: number;
  windowMs: number;
}

/**
 * The failures that matter for one key: the time of the `limit`-th most recent failure within
 * the window, or undefined when there are fewer than `limit`. Once that failure leaves the
 * window, the key is below its limit again.
 */
export interface FailureWindow {
  limitingFailureAt: Date | undefined;
}

/** Whether a login may proceed, and if not, until when and why. */
export type ThrottleVerdict =
  | { allowed: true }
  | { allowed: false; retryAfterSeconds: number; scope: "email" | "address" };

/**
 * Decides whether a login attempt may check the password. Blocking happens before the password
 * is looked at, and counts failures for unknown emails the same way, so the answer never says
 * whether an account exists.
 */
export function loginVerdict(
  byEmail: FailureWindow,
  byAddress: FailureWindow,
  limits: ThrottleLimits,
  now: Date,
): ThrottleVerdict {
  const until = (w: FailureWindow) =>
    w.limitingFailureAt ? w.limitingFailureAt.getTime() + limits.windowMs : 0;
  const emailUntil = until(byEmail);
  const addressUntil = until(byAddress);
  const blockedUntil = Math.max(emailUntil, addressUntil);
  if (blockedUntil <= now.getTime()) return { allowed: true };
  return {
    allowed: false,
    retryAfterSeconds: Math.ceil((blockedUntil - now.getTime()) / 1000),
    scope: emailUntil >= addressUntil ? "email" : "address",
  };
}

/**
 * The client address a throttle keys on: the last `x-forwarded-for` entry (appended by the
 * edge, so a client cannot forge it) or else the gRPC peer without its port.
 */
export function clientAddress(forwardedFor: string | undefined, peer: string): string {
  const forwarded = forwardedFor
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .at(-1);
  if (forwarded) return forwarded.slice(0, 64);
  const withoutScheme = peer.replace(/^ipv[46]:/, "");
  const bracketed = /^\[([^\]]+)\]/.exec(withoutScheme);
  if (bracketed?.[1]) return bracketed[1];
  const lastColon = withoutScheme.lastIndexOf(":");
  return (lastColon > 0 ? withoutScheme.slice(0, lastColon) : withoutScheme).slice(0, 64);
}
