import { consumerGroup, int, loadConfig, servicePorts, str } from "@shopmesh/platform/config";

/**
 * Reads the order service's configuration from the environment, the one place that does.
 * Ports, peers and database follow services/README.md; the SAGA_* knobs bound how long each
 * checkout step may take before the saga compensates, and how a crashed worker's orders are
 * resumed (a claimed order is retried once its lease passes).
 */
export function readConfig(env: Readonly<Record<string, string | undefined>> = process.env) {
  return loadConfig(
    {
      ...servicePorts(50055, env),
      dbName: str("DB_NAME", { default: "shopmesh_orders" }),
      kafkaBrokers: str("KAFKA_BROKERS", { default: "127.0.0.1:9092" }),
      ...consumerGroup("order-service"),
      userAddr: str("USER_ADDR", { default: "127.0.0.1:50051" }),
      catalogAddr: str("CATALOG_ADDR", { default: "127.0.0.1:50052" }),
      inventoryAddr: str("INVENTORY_ADDR", { default: "127.0.0.1:50053" }),
      paymentAddr: str("PAYMENT_ADDR", { default: "127.0.0.1:50056" }),
      shippingAddr: str("SHIPPING_ADDR", { default: "127.0.0.1:50057" }),
      /** Deadline of one call to a peer. */
      peerTimeoutMs: int("PEER_TIMEOUT_MS", { default: 5_000, min: 100 }),
      /** How long the inventory step may go unanswered before the order is cancelled. */
      inventoryStepTimeoutMs: int("SAGA_INVENTORY_TIMEOUT_MS", { default: 60_000, min: 100 }),
      /** How long the payment step may go unanswered; shorter than the reservation TTL. */
      paymentStepTimeoutMs: int("SAGA_PAYMENT_TIMEOUT_MS", { default: 120_000, min: 100 }),
      /** Stock hold asked of inventory; must outlive the payment step. */
      reservationTtlSeconds: int("RESERVATION_TTL_SECONDS", { default: 900, min: 60, max: 3600 }),
      /** How often the sweeper looks for orders whose next attempt is due. */
      sweepIntervalMs: int("SAGA_SWEEP_INTERVAL_MS", { default: 1_000, min: 10 }),
      /** How long a worker owns an order it claimed; after a crash, others resume it then. */
      leaseMs: int("SAGA_LEASE_MS", { default: 30_000, min: 500 }),
      /** Longest pause between retries of a step that keeps failing (a peer that is down). */
      maxBackoffMs: int("SAGA_MAX_BACKOFF_MS", { default: 30_000, min: 100 }),
      /** Orders advanced at once by one process. */
      concurrency: int("SAGA_CONCURRENCY", { default: 16, min: 1, max: 256 }),
      dbPoolSize: int("DB_POOL_SIZE", { default: 10, min: 1, max: 100 }),
    },
    env,
  );
}

/** The order service's typed configuration. */
export type OrderConfig = ReturnType<typeof readConfig>;
