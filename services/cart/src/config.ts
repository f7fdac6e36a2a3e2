import { consumerGroup, int, loadConfig, servicePorts, str, url } from "@shopmesh/platform/config";

/**
 * Reads the cart service's configuration from the environment, the one place that does
 * (ports, peers, Redis and Kafka as in services/README.md).
 */
export function readConfig(env: Readonly<Record<string, string | undefined>> = process.env) {
  return loadConfig(
    {
      ...servicePorts(50054, env),
      redisUrl: url("REDIS_URL", {
        default: "redis://127.0.0.1:6379",
        protocols: ["redis:", "rediss:"],
      }),
      /** Prepended to every key, so tests (or several shops) can share one Redis. */
      redisKeyPrefix: str("REDIS_KEY_PREFIX", { default: "" }),
      cartTtlDays: int("CART_TTL_DAYS", { default: 30, min: 1, max: 365 }),
      kafkaBrokers: str("KAFKA_BROKERS", { default: "127.0.0.1:9092" }),
      ...consumerGroup("cart-service"),
      userAddr: str("USER_ADDR", { default: "127.0.0.1:50051" }),
      catalogAddr: str("CATALOG_ADDR", { default: "127.0.0.1:50052" }),
      inventoryAddr: str("INVENTORY_ADDR", { default: "127.0.0.1:50053" }),
      orderAddr: str("ORDER_ADDR", { default: "127.0.0.1:50055" }),
      shippingAddr: str("SHIPPING_ADDR", { default: "127.0.0.1:50057" }),
      /** Deadline of reads from catalog, inventory and shipping; short, since the cart degrades. */
      peerTimeoutMs: int("PEER_TIMEOUT_MS", { default: 1_500, min: 50 }),
      /** Deadline of the PlaceOrder call made by Checkout. */
      checkoutTimeoutMs: int("CHECKOUT_TIMEOUT_MS", { default: 10_000, min: 100 }),
    },
    env,
  );
}

/** The cart service's typed configuration. */
export type CartConfig = ReturnType<typeof readConfig>;
