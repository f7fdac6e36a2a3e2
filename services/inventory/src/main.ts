import { fileURLToPath } from "node:url";
import { InventoryService } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { createJwtAuthenticator, jwksFromUserService } from "@shopmesh/platform/auth";
import { createDb, ensureDatabase } from "@shopmesh/platform/db";
import { createClient } from "@shopmesh/platform/grpc-client";
import { createKafka, ensureTopics } from "@shopmesh/platform/kafka";
import { startConsumer } from "@shopmesh/platform/kafka-consumer";
import { createLogger } from "@shopmesh/platform/logger";
import { runMigrations } from "@shopmesh/platform/migrations";
import { startOutboxRelay } from "@shopmesh/platform/outbox-relay";
import { platformMigrations } from "@shopmesh/platform/platform-migrations";
import { startService } from "@shopmesh/platform/service";
import { loadInventoryConfig } from "./config.ts";
import {
  APPLIED_EVENT_TYPES,
  CONSUMED_TOPICS,
  createEventHandler,
  INVENTORY_TOPIC,
} from "./events.ts";
import { startExpirySweeper } from "./expiry-sweeper.ts";
import { createInventoryHandlers } from "./handlers.ts";
import { createReservationCommands } from "./reservations.ts";
import { createStockCommands } from "./stock-commands.ts";
import type { InventoryDb } from "./store.ts";

const config = loadInventoryConfig();
const logger = createLogger("inventory");

const connection = await ensureDatabase(config.dbName, { logger });
const db = createDb<InventoryDb>({
  ...connection,
  poolSize: config.dbPoolSize,
  applicationName: "inventory",
});
await runMigrations(db as never, {
  migrations: platformMigrations,
  folder: fileURLToPath(new URL("./migrations", import.meta.url)),
  logger,
});

const kafka = createKafka({ clientId: "inventory", brokers: config.kafkaBrokers, logger });
await ensureTopics(
  kafka,
  [INVENTORY_TOPIC, ...CONSUMED_TOPICS].map((topic) => ({ topic, numPartitions: 6 })),
  { logger },
);

const reservations = createReservationCommands({ db, defaultTtlMs: config.reservationTtlMs });
const stock = createStockCommands({
  db,
  defaultLowStockThreshold: config.defaultLowStockThreshold,
});
const users = createClient(UserService, config.userAddr);

const service = await startService({
  name: "inventory",
  port: config.grpcPort,
  metricsPort: config.metricsPort,
  logger,
  authenticate: createJwtAuthenticator({ jwks: jwksFromUserService(users) }),
  services: [[InventoryService, createInventoryHandlers({ db, reservations, stock })]] as const,
});

const relay = startOutboxRelay({ connection, kafka, logger });
const consumer = await startConsumer({
  kafka,
  groupId: config.kafkaGroupId,
  fromBeginning: config.kafkaFromBeginning,
  topics: CONSUMED_TOPICS,
  eventTypes: APPLIED_EVENT_TYPES,
  handler: createEventHandler({ db, reservations, stock, logger }),
  logger,
});
const sweeper = startExpirySweeper({
  expireDue: () => reservations.expireDue(),
  intervalMs: config.expirySweepMs,
  logger,
});

service.shutdown.onShutdown("consumers", "kafka-consumer", () => consumer.stop());
service.shutdown.onShutdown("consumers", "expiry-sweeper", () => sweeper.stop());
service.shutdown.onShutdown("relay", "outbox-relay", () => relay.stop());
service.shutdown.onShutdown("pools", "postgres", () => db.destroy());
