import { bool, int, loadConfig, port, str } from "@shopmesh/platform/config";
import { CONSUMER_GROUP } from "./events.ts";

const grpcPort = Number(process.env.GRPC_PORT || 50052);

/**
 * The catalog service's configuration, read once from the environment (services/README.md
 * lists the shared variables; PGHOST, PGPORT, PGUSER and PGPASSWORD reach pg directly).
 */
export function loadCatalogConfig(env: Readonly<Record<string, string | undefined>> = process.env) {
  return loadConfig(
    {
      grpcPort: port("GRPC_PORT", { default: 50052 }),
      metricsPort: port("METRICS_PORT", { default: grpcPort + 1000 }),
      dbName: str("DB_NAME", { default: "shopmesh_catalog" }),
      dbPoolSize: int("DB_POOL_SIZE", { default: 10, min: 1, max: 100 }),
      kafkaBrokers: str("KAFKA_BROKERS", { default: "127.0.0.1:9092" }),
      /** Kafka consumer group; one per service in production, unique per run in tests. */
      kafkaGroupId: str("KAFKA_GROUP_ID", { default: CONSUMER_GROUP }),
      /** A new group reads topics from the start (misses nothing); tests start at the end. */
      kafkaFromBeginning: bool("KAFKA_FROM_BEGINNING", { default: true }),
      userAddr: str("USER_ADDR", { default: "127.0.0.1:50051" }),
    },
    env,
  );
}

/** The parsed configuration. */
export type CatalogConfig = ReturnType<typeof loadCatalogConfig>;
