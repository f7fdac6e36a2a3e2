import type { Logger } from "@shopmesh/platform/logger";
import type { Redis } from "ioredis";

/** One token bucket: `capacity` requests at once, refilled at `perMinute` per minute. */
export interface BucketLimit {
  capacity: number;
  perMinute: number;
}

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  redis: Redis;
  /** Prefix of every key, e.g. `edge:rl:`; tests use a unique one. */
  keyPrefix: string;
  /** The bucket every client IP gets. */
  perIp: BucketLimit;
  /** The bucket every signed-in user gets, across all their IPs. */
  perUser: BucketLimit;
  logger: Logger;
}

/** The limiter's answer: allowed, or refused with the seconds to wait. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Checks and consumes one request from a client's buckets. */
export interface RateLimiter {
  take(ip: string, userId: string | undefined): Promise<RateDecision>;
}

// Token buckets for up to two keys, checked and charged in one atomic step: either every bucket
// has a token and each loses one, or none is charged and the script returns the wait in ms until
// the emptiest one has a token again. Redis's own clock keeps edge replicas in agreement.
// Each key is a hash {tokens, ts}; it expires once a full refill has passed, so idle clients
// cost nothing.
// ARGV: per key, capacity and refill tokens per ms (2 values each, in KEYS order).
const TOKEN_BUCKET_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local states = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[i * 2 - 1])
  local rate = tonumber(ARGV[i * 2])
  local s = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(s[1])
  local ts = tonumber(s[2])
  if tokens == nil or ts == nil then tokens = capacity; ts = now end
  tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
  if tokens < 1 then
    local need = math.ceil((1 - tokens) / rate)
    if need > wait then wait = need end
  end
  states[i] = {key, tokens, capacity, rate}
end
if wait > 0 then return wait end
for _, st in ipairs(states) do
  redis.call('HSET', st[1], 'tokens', st[2] - 1, 'ts', now)
  redis.call('PEXPIRE', st[1], math.ceil(st[3] / st[4]) + 1000)
end
return 0
`;

/**
 * Creates the per-client limiter: one token bucket per IP and one per signed-in user, kept in
 * Redis so every edge replica shares them. When Redis is slow or down the limiter lets requests
 * through (and logs it): losing rate limiting for a moment is better than refusing the shop.
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { redis, keyPrefix, perIp, perUser, logger } = options;
  let warnedAt = 0;
  const perMs = (limit: BucketLimit) => limit.perMinute / 60_000;
  // defineCommand sends EVALSHA and falls back to EVAL once, so the script is not resent per call.
  if (!("edgeTakeTokens" in redis))
    redis.defineCommand("edgeTakeTokens", { lua: TOKEN_BUCKET_LUA });
  const run = (
    redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>
  ).edgeTakeTokens!.bind(redis);
  return {
    async take(ip, userId) {
      const keys = [`${keyPrefix}ip:${ip}`];
      const args: (string | number)[] = [perIp.capacity, perMs(perIp)];
      if (userId) {
        keys.push(`${keyPrefix}user:${userId}`);
        args.push(perUser.capacity, perMs(perUser));
      }
      try {
        const waitMs = Number(await run(keys.length, ...keys, ...args));
        if (waitMs <= 0) return { allowed: true };
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      } catch (err) {
        if (Date.now() - warnedAt > 10_000) {
          warnedAt = Date.now();
          logger.warn({ err }, "rate limiter store unavailable; letting requests through");
        }
        return { allowed: true };
      }
    },
  };
}
