import { consumerGroup, int, loadConfig, servicePorts, str } from "@shopmesh/platform/config";
import { CONSUMER_GROUP } from "./events.ts";

/**
 * The inventory service's configuration, read once from the environment (services/README.md
 * lists the shared variables; PGHOST, PGPORT, PGUSER and PGPASSWORD reach pg directly).
 */
export function loadInventoryConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
) {
  return loadConfig(
    {
      ...servicePorts(50053, env),
      dbName: str("DB_NAME", { default: "shopmesh_inventory" }),
      dbPoolSize: int("DB_POOL_SIZE", { default: 10, min: 1, max: 100 }),
      kafkaBrokers: str("KAFKA_BROKERS", { default: "127.0.0.1:9092" }),
      ...consumerGroup(CONSUMER_GROUP),
      userAddr: str("USER_ADDR", { default: "127.0.0.1:50051" }),
      /** Hold time of a reservation when ReserveStock names none (the proto's 15 minutes). */
      reservationTtlMs: int("RESERVATION_TTL_MS", {
        default: 15 * 60_000,
        min: 60_000,
        max: 3_600_000,
      }),
      /** How often the sweeper looks for expired reservations. */
      expirySweepMs: int("EXPIRY_SWEEP_MS", { default: 5_000, min: 100, max: 600_000 }),
      /** Low-stock threshold given to newly tracked variants. */
      defaultLowStockThreshold: int("DEFAULT_LOW_STOCK_THRESHOLD", {
        default: 5,
        min: 0,
        max: 1_000_000,
      }),
    },
    env,
  );
}

/** The parsed configuration. */
export type InventoryConfig = ReturnType<typeof loadInventoryConfig>;
