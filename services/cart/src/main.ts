import { CartService } from "@shopmesh/gen/shopmesh/cart/v1/cart_pb.js";
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { OrderService } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { ShippingService } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { createJwtAuthenticator, jwksFromUserService } from "@shopmesh/platform/auth";
import { createClient } from "@shopmesh/platform/grpc-client";
import { createKafka, ensureTopics } from "@shopmesh/platform/kafka";
import { createLogger } from "@shopmesh/platform/logger";
import { startService } from "@shopmesh/platform/service";
import { Redis } from "ioredis";
import { readConfig } from "./config.ts";
import { CARTS_TOPIC, createCartEvents, ORDERS_TOPIC, startOrderPlacedConsumer } from "./events.ts";
import { createCartHandlers } from "./handlers.ts";
import { createCartStore } from "./store.ts";

const config = readConfig();
const logger = createLogger("cart");

const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
const ttlSeconds = config.cartTtlDays * 24 * 3600;
const store = createCartStore(redis, { keyPrefix: config.redisKeyPrefix, ttlSeconds });

const kafka = createKafka({ clientId: "cart", brokers: config.kafkaBrokers, logger });
await ensureTopics(
  kafka,
  [CARTS_TOPIC, ORDERS_TOPIC].map((topic) => ({ topic, numPartitions: 6 })),
  { logger },
);
const events = createCartEvents(kafka, logger);

// Reads that the cart can do without retry once, quickly, so a dead peer costs little.
const read = { timeoutMs: config.peerTimeoutMs, retry: { maxAttempts: 2 } };
const clients = {
  catalog: createClient(CatalogService, config.catalogAddr, read),
  inventory: createClient(InventoryService, config.inventoryAddr, read),
  shipping: createClient(ShippingService, config.shippingAddr, read),
  user: createClient(UserService, config.userAddr, read),
  order: createClient(OrderService, config.orderAddr, { timeoutMs: config.checkoutTimeoutMs }),
};

// Not awaited: after a crash the group join waits for the dead member to expire; the cart's
// RPCs must not wait for that.
const consumer = startOrderPlacedConsumer({
  kafka,
  store,
  logger,
  groupId: config.kafkaGroupId,
  fromBeginning: config.kafkaFromBeginning,
});
consumer.catch((err: unknown) => {
  logger.fatal({ err }, "cannot start the Kafka consumer");
  process.exit(1);
});

const service = await startService({
  name: "cart",
  port: config.grpcPort,
  metricsPort: config.metricsPort,
  logger,
  authenticate: createJwtAuthenticator({ jwks: jwksFromUserService(clients.user) }),
  services: [
    [
      CartService,
      createCartHandlers({
        store,
        clients,
        events,
        logger,
        ttlSeconds,
        checkoutTimeoutMs: config.checkoutTimeoutMs,
      }),
    ],
  ],
});
service.shutdown.onShutdown("consumers", "kafka-consumer", async () => (await consumer).stop());
service.shutdown.onShutdown("relay", "cart-events", () => events.close());
service.shutdown.onShutdown("pools", "redis", async () => {
  await redis.quit();
});
