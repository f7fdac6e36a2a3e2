import type { DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { status } from "@grpc/grpc-js";

/**
 * RPC name prefixes that denote reads when the `.proto` declares no idempotency level. A method
 * matches when its name starts with the prefix followed by an upper-case letter or the end
 * (`GetCart`, `List`; not `Getaway`).
 */
export const DEFAULT_READ_PREFIXES: readonly string[] = [
  "Get",
  "BatchGet",
  "List",
  "Check",
  "Search",
  "Suggest",
  "Lookup",
  "Track",
  "Quote",
  "Recommend",
  "Similar",
];

/** How calls are retried. Retries share the call's overall deadline. */
export interface RetryOptions {
  /** Attempts including the first. Default 3; 1 disables retries. */
  maxAttempts?: number;
  /** Backoff before the first retry; doubles (by `multiplier`) each time. Default 50 ms. */
  initialBackoffMs?: number;
  /** Cap of one backoff. Default 1 s. */
  maxBackoffMs?: number;
  /** Growth factor of the backoff. Default 2. */
  multiplier?: number;
  /** Read-method name prefixes; {@link DEFAULT_READ_PREFIXES} by default. */
  readPrefixes?: readonly string[];
  /**
   * Proto name of the request field that makes a write safe to retry when set, because the
   * server deduplicates on it. Default `idempotency_key`.
   */
  idempotencyKeyField?: string;
}

const NONE: ReadonlySet<status> = new Set();
const READ_RETRY: ReadonlySet<status> = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);
// A write that timed out may have been applied: only "never reached the server" is retried.
const WRITE_RETRY: ReadonlySet<status> = new Set([status.UNAVAILABLE]);

/**
 * Whether `method` only reads: `option idempotency_level = NO_SIDE_EFFECTS` decides when set,
 * otherwise the name prefix does.
 */
export function isReadMethod(
  method: DescMethod,
  prefixes: readonly string[] = DEFAULT_READ_PREFIXES,
): boolean {
  if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) return true;
  if (method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT) return false;
  return prefixes.some(
    (prefix) =>
      method.name.startsWith(prefix) &&
      (method.name.length === prefix.length || /[A-Z]/.test(method.name[prefix.length]!)),
  );
}

/**
 * Returns, for one method, a function that tells which status codes make a given request safe
 * to retry: reads retry on UNAVAILABLE and DEADLINE_EXCEEDED; writes declared IDEMPOTENT, or
 * carrying a non-empty idempotency key, retry on UNAVAILABLE only; other writes never retry,
 * since a second attempt could charge a card twice.
 */
export function retryPolicy(
  method: DescMethod,
  options: RetryOptions = {},
): (request: Record<string, unknown>) => ReadonlySet<status> {
  if (isReadMethod(method, options.readPrefixes)) return () => READ_RETRY;
  if (method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT) return () => WRITE_RETRY;
  const keyName = options.idempotencyKeyField ?? "idempotency_key";
  const keyField = method.input.fields.find((field) => field.name === keyName);
  if (!keyField) return () => NONE;
  return (request) => {
    const key = request[keyField.localName];
    return typeof key === "string" && key !== "" ? WRITE_RETRY : NONE;
  };
}

/**
 * Delay before retry number `retry` (1-based): exponential, capped, with "equal jitter" (half
 * fixed, half random) so clients that failed together do not retry in lockstep.
 */
export function backoffMs(retry: number, options: RetryOptions = {}): number {
  const initial = options.initialBackoffMs ?? 50;
  const cap = options.maxBackoffMs ?? 1_000;
  const base = Math.min(cap, initial * (options.multiplier ?? 2) ** (retry - 1));
  return base / 2 + Math.random() * (base / 2);
}
