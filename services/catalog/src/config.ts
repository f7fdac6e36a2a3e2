import { consumerGroup, int, loadConfig, servicePorts, str } from "@shopmesh/platform/config";
import { CONSUMER_GROUP } from "./events.ts";

/**
 * The catalog service's configuration, read once from the environment (services/README.md
 * lists the shared variables; PGHOST, PGPORT, PGUSER and PGPASSWORD reach pg directly).
 */
export function loadCatalogConfig(env: Readonly<Record<string, string | undefined>> = process.env) {
  return loadConfig(
    {
      ...servicePorts(50052, env),
      dbName: str("DB_NAME", { default: "shopmesh_catalog" }),
      dbPoolSize: int("DB_POOL_SIZE", { default: 10, min: 1, max: 100 }),
      kafkaBrokers: str("KAFKA_BROKERS", { default: "127.0.0.1:9092" }),
      ...consumerGroup(CONSUMER_GROUP),
      userAddr: str("USER_ADDR", { default: "127.0.0.1:50051" }),
    },
    env,
  );
}

/** The parsed configuration. */
export type CatalogConfig = ReturnType<typeof loadCatalogConfig>;
