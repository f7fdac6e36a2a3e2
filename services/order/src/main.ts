import { fileURLToPath } from "node:url";
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { OrderService } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { PaymentService } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { ShippingService } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { createJwtAuthenticator, jwksFromUserService } from "@shopmesh/platform/auth";
import { createDb, ensureDatabase } from "@shopmesh/platform/db";
import { createClient } from "@shopmesh/platform/grpc-client";
import { createKafka, ensureTopics } from "@shopmesh/platform/kafka";
import { createLogger } from "@shopmesh/platform/logger";
import { runMigrations } from "@shopmesh/platform/migrations";
import { startOutboxRelay } from "@shopmesh/platform/outbox-relay";
import { platformMigrations } from "@shopmesh/platform/platform-migrations";
import { startService } from "@shopmesh/platform/service";
import { readConfig } from "./config.ts";
import { CONSUMED_TOPICS, ORDERS_TOPIC, orderEvents, startOrderConsumer } from "./events.ts";
import { createOrderHandlers } from "./handlers.ts";
import { createSagaWorker } from "./saga/worker.ts";
import { createOrderStore, type OrderDatabase } from "./store.ts";

const config = readConfig();
const logger = createLogger("order");

const connection = await ensureDatabase(config.dbName, { logger });
const db = createDb<OrderDatabase>({
  ...connection,
  poolSize: config.dbPoolSize,
  applicationName: "order",
});
await runMigrations(db as never, {
  migrations: platformMigrations,
  folder: fileURLToPath(new URL("./migrations", import.meta.url)),
  logger,
});

const kafka = createKafka({ clientId: "order", brokers: config.kafkaBrokers, logger });
await ensureTopics(
  kafka,
  [ORDERS_TOPIC, ...CONSUMED_TOPICS].map((topic) => ({ topic, numPartitions: 6 })),
  { logger },
);

const peer = { timeoutMs: config.peerTimeoutMs };
const clients = {
  catalog: createClient(CatalogService, config.catalogAddr, peer),
  inventory: createClient(InventoryService, config.inventoryAddr, peer),
  payment: createClient(PaymentService, config.paymentAddr, peer),
  shipping: createClient(ShippingService, config.shippingAddr, peer),
};
const users = createClient(UserService, config.userAddr, peer);

const store = createOrderStore(db, orderEvents);
const worker = createSagaWorker({
  store,
  clients,
  logger,
  concurrency: config.concurrency,
  sweepIntervalMs: config.sweepIntervalMs,
  leaseMs: config.leaseMs,
  reservationTtlSeconds: config.reservationTtlSeconds,
  paymentStepTimeoutMs: config.paymentStepTimeoutMs,
  maxBackoffMs: config.maxBackoffMs,
});
const relay = startOutboxRelay({ connection, kafka, logger });
// Not awaited: joining the consumer group can take a session timeout after a crash (the dead
// member must expire first), and the saga does not need events to make progress meanwhile.
const consumer = startOrderConsumer({
  kafka,
  store,
  logger,
  groupId: config.kafkaGroupId,
  fromBeginning: config.kafkaFromBeginning,
  onChanged: worker.kick,
  sagaRun: worker.running,
});
consumer.catch((err: unknown) => {
  logger.fatal({ err }, "cannot start the Kafka consumer");
  process.exit(1);
});

const service = await startService({
  name: "order",
  port: config.grpcPort,
  metricsPort: config.metricsPort,
  logger,
  authenticate: createJwtAuthenticator({ jwks: jwksFromUserService(users) }),
  services: [
    [
      OrderService,
      createOrderHandlers({
        store,
        clients,
        saga: worker,
        logger,
        inventoryStepTimeoutMs: config.inventoryStepTimeoutMs,
      }),
    ],
  ],
});
service.shutdown.onShutdown("consumers", "kafka-consumer", async () => (await consumer).stop());
service.shutdown.onShutdown("consumers", "saga-worker", () => worker.stop());
service.shutdown.onShutdown("relay", "outbox-relay", () => relay.stop());
service.shutdown.onShutdown("pools", "postgres", () => db.destroy());
