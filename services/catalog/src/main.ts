import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { createJwtAuthenticator, jwksFromUserService } from "@shopmesh/platform/auth";
import { createClient } from "@shopmesh/platform/grpc-client";
import { createKafka, ensureTopics } from "@shopmesh/platform/kafka";
import { startConsumer } from "@shopmesh/platform/kafka-consumer";
import { createLogger } from "@shopmesh/platform/logger";
import { startOutboxRelay } from "@shopmesh/platform/outbox-relay";
import { startService } from "@shopmesh/platform/service";
import { loadCatalogConfig } from "./config.ts";
import { openCatalogDb } from "./database.ts";
import {
  CONSUMED_TOPICS,
  createEventHandler,
  PRODUCT_VIEWS_TOPIC,
  PRODUCTS_TOPIC,
} from "./events.ts";
import { createCatalogHandlers } from "./handlers.ts";
import { createProductCommands } from "./products.ts";

const config = loadCatalogConfig();
const logger = createLogger("catalog");

const { db, connection } = await openCatalogDb(config.dbName, {
  logger,
  poolSize: config.dbPoolSize,
});
const kafka = createKafka({ clientId: "catalog", brokers: config.kafkaBrokers, logger });
await ensureTopics(
  kafka,
  [PRODUCTS_TOPIC, PRODUCT_VIEWS_TOPIC, ...CONSUMED_TOPICS].map((topic) => ({
    topic,
    numPartitions: 6,
  })),
  { logger },
);

const products = createProductCommands({ db });
const users = createClient(UserService, config.userAddr);

const service = await startService({
  name: "catalog",
  port: config.grpcPort,
  metricsPort: config.metricsPort,
  logger,
  authenticate: createJwtAuthenticator({ jwks: jwksFromUserService(users) }),
  services: [[CatalogService, createCatalogHandlers({ db, products })]] as const,
});

const relay = startOutboxRelay({ connection, kafka, logger });
const consumer = await startConsumer({
  kafka,
  groupId: config.kafkaGroupId,
  fromBeginning: config.kafkaFromBeginning,
  topics: CONSUMED_TOPICS,
  handler: createEventHandler({ db, applyRating: products.applyRating }),
  logger,
});

service.shutdown.onShutdown("consumers", "kafka-consumer", () => consumer.stop());
service.shutdown.onShutdown("relay", "outbox-relay", () => relay.stop());
service.shutdown.onShutdown("pools", "postgres", () => db.destroy());
