import type { Redis } from "ioredis";
import { type Cart, emptyCart } from "./domain/cart.ts";

// Compare-and-set of one cart document, optionally recording an event id in the same atomic
// step. Redis runs a script without interleaving, so two concurrent writers of one cart can
// never both succeed from the same version: the loser re-reads and re-applies its change.
// Returns 1 when written, 0 on a version mismatch, 2 when the event was already applied.
const CAS_SCRIPT = `
if ARGV[4] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = tonumber(cjson.decode(current).version) or 0 end
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if ARGV[4] == '1' then redis.call('SET', KEYS[2], '1', 'EX', ARGV[5]) end
return 1
`;

/** How long an applied event id is remembered for dedupe: longer than Kafka would redeliver. */
const DEDUPE_TTL_SECONDS = 7 * 24 * 3600;
const MAX_CAS_ATTEMPTS = 50;

/** Outcome of {@link CartStore.update}. */
export interface UpdateResult {
  cart: Cart;
  /** False when the change left the cart as it was (nothing written). */
  changed: boolean;
  /** True when `eventId` had been applied before, so nothing was done. */
  duplicate: boolean;
}

/**
 * Creates the Redis access of the cart service: one JSON document per user at
 * `<prefix>cart:<userId>`, expiring `ttlSeconds` after its last change.
 */
export function createCartStore(redis: Redis, options: { keyPrefix: string; ttlSeconds: number }) {
  const key = (userId: string) => `${options.keyPrefix}cart:${userId}`;
  const dedupeKey = (eventId: string) => `${options.keyPrefix}cart-inbox:${eventId}`;

  async function get(userId: string): Promise<Cart> {
    const raw = await redis.get(key(userId));
    return raw ? (JSON.parse(raw) as Cart) : emptyCart(userId);
  }

  return {
    get,

    /**
     * Applies `change` to the current cart and writes it if the cart did not move meanwhile,
     * retrying on a concurrent write. With `eventId`, the change is applied at most once per
     * event id (the order.placed consumer), atomically with the write.
     */
    async update(
      userId: string,
      change: (cart: Cart) => Cart,
      eventId?: string,
    ): Promise<UpdateResult> {
      for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
        const current = await get(userId);
        const next = change(current);
        if (next === current && !eventId)
          return { cart: current, changed: false, duplicate: false };
        const result = await redis.eval(
          CAS_SCRIPT,
          2,
          key(userId),
          eventId ? dedupeKey(eventId) : key(userId),
          String(current.version),
          JSON.stringify(next === current ? current : next),
          String(options.ttlSeconds),
          eventId ? "1" : "0",
          String(DEDUPE_TTL_SECONDS),
        );
        if (result === 2) return { cart: current, changed: false, duplicate: true };
        if (result === 1) return { cart: next, changed: next !== current, duplicate: false };
      }
      throw new Error(
        `cart of user ${userId} kept changing; gave up after ${MAX_CAS_ATTEMPTS} attempts`,
      );
    },
  };
}

/** The cart store's interface. */
export type CartStore = ReturnType<typeof createCartStore>;
