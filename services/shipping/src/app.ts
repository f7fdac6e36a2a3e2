import { fileURLToPath } from "node:url";
import { ShippingService } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { createJwtAuthenticator, jwksFromUserService } from "@shopmesh/platform/auth";
import { createDb, ensureDatabase } from "@shopmesh/platform/db";
import { createClient } from "@shopmesh/platform/grpc-client";
import type { Authenticate } from "@shopmesh/platform/grpc-server";
import { createKafka, ensureTopics } from "@shopmesh/platform/kafka";
import { createLogger, type Logger } from "@shopmesh/platform/logger";
import { runMigrations } from "@shopmesh/platform/migrations";
import { startOutboxRelay } from "@shopmesh/platform/outbox-relay";
import { platformMigrations } from "@shopmesh/platform/platform-migrations";
import { type RunningService, startService } from "@shopmesh/platform/service";
import { startCarrierSimulation } from "./advancer.ts";
import type { ShippingConfig } from "./config.ts";
import type { ShippingDeps } from "./deps.ts";
import { carrierByCode } from "./domain/rates.ts";
import { SHIPMENTS_TOPIC } from "./events.ts";
import { createShippingHandlers } from "./handlers.ts";
import { createShipmentStore, type ShippingDatabase } from "./store.ts";

/** Overrides for tests: a local token verifier, no signal handlers, a quiet logger. */
export interface ShippingAppOptions {
  authenticate?: Authenticate;
  logger?: Logger;
  handleSignals?: boolean;
}

/** The running shipping service and the dependencies tests may inspect. */
export interface ShippingApp {
  service: RunningService;
  deps: ShippingDeps;
}

/**
 * Boots the shipping service: database (created and migrated), the shipments topic, the outbox
 * relay, the simulated carrier and the gRPC server, all registered on the graceful shutdown.
 */
export async function startShippingApp(
  config: ShippingConfig,
  options: ShippingAppOptions = {},
): Promise<ShippingApp> {
  const logger = options.logger ?? createLogger("shipping");
  const connection = await ensureDatabase(config.dbName, { logger });
  const db = createDb<ShippingDatabase>({ ...connection, applicationName: "shipping" });
  await runMigrations(db as never, {
    migrations: platformMigrations,
    folder: fileURLToPath(new URL("./migrations", import.meta.url)),
    logger,
  });
  const kafka = createKafka({ clientId: "shipping", brokers: config.kafkaBrokers, logger });
  await ensureTopics(kafka, [{ topic: SHIPMENTS_TOPIC, numPartitions: 6 }], { logger });
  const relay = startOutboxRelay({ connection, kafka, logger });

  const store = createShipmentStore(
    (trackingNumber) => `${config.trackingBaseUrl}${trackingNumber}`,
    (code) => carrierByCode(code)?.name ?? code,
  );
  const deps: ShippingDeps = {
    db,
    store,
    logger,
    originCountry: config.originCountry,
    costCurrency: config.costCurrency,
    advanceIntervalMs: config.advanceIntervalMs,
  };
  const stopCarrier = startCarrierSimulation(deps);

  const authenticate =
    options.authenticate ??
    createJwtAuthenticator({
      jwks: jwksFromUserService(createClient(UserService, config.userAddr)),
    });
  const service = await startService({
    name: "shipping",
    port: config.grpcPort,
    metricsPort: config.metricsPort,
    logger,
    authenticate,
    handleSignals: options.handleSignals ?? true,
    services: [[ShippingService, createShippingHandlers(deps)]] as const,
  });
  service.shutdown.onShutdown("consumers", "carrier-simulation", stopCarrier);
  service.shutdown.onShutdown("relay", "outbox-relay", () => relay.stop());
  service.shutdown.onShutdown("pools", "postgres", () => db.destroy());
  return { service, deps };
}
