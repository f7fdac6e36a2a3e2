import { fileURLToPath } from "node:url";
import { PaymentService } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
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
import type { PaymentConfig } from "./config.ts";
import type { PaymentDeps } from "./deps.ts";
import { PAYMENTS_TOPIC } from "./events.ts";
import { createSimulatedGateway } from "./gateway/simulated-gateway.ts";
import { createPaymentHandlers } from "./handlers.ts";
import { startReconciler } from "./reconciler.ts";
import type { PaymentDatabase } from "./store.ts";

/** Overrides for tests: a local token verifier, no signal handlers, a quiet logger. */
export interface PaymentAppOptions {
  authenticate?: Authenticate;
  logger?: Logger;
  handleSignals?: boolean;
}

/** The running payment service and the dependencies tests may inspect. */
export interface PaymentApp {
  service: RunningService;
  deps: PaymentDeps;
}

/**
 * Boots the payment service: its database (created and migrated), the payments topic, the
 * outbox relay, the simulated gateway, the reconciler and the gRPC server, all registered on
 * the graceful shutdown.
 */
export async function startPaymentApp(
  config: PaymentConfig,
  options: PaymentAppOptions = {},
): Promise<PaymentApp> {
  const logger = options.logger ?? createLogger("payment");
  const connection = await ensureDatabase(config.dbName, { logger });
  const db = createDb<PaymentDatabase>({ ...connection, applicationName: "payment" });
  await runMigrations(db as never, {
    migrations: platformMigrations,
    folder: fileURLToPath(new URL("./migrations", import.meta.url)),
    logger,
  });
  const kafka = createKafka({ clientId: "payment", brokers: config.kafkaBrokers, logger });
  await ensureTopics(kafka, [{ topic: PAYMENTS_TOPIC, numPartitions: 6 }], { logger });
  const relay = startOutboxRelay({ connection, kafka, logger });

  const gateway = createSimulatedGateway(db as never, {
    hangMs: config.gatewayHangMs,
    slowMs: config.gatewaySlowMs,
    failurePercent: config.gatewayFailurePercent,
  });
  const deps: PaymentDeps = { db, gateway, logger };
  const stopReconciler = startReconciler(deps, config.reconcileIntervalMs);

  const authenticate =
    options.authenticate ??
    createJwtAuthenticator({
      jwks: jwksFromUserService(createClient(UserService, config.userAddr)),
    });
  const service = await startService({
    name: "payment",
    port: config.grpcPort,
    metricsPort: config.metricsPort,
    logger,
    authenticate,
    handleSignals: options.handleSignals ?? true,
    services: [[PaymentService, createPaymentHandlers(deps)]] as const,
  });
  service.shutdown.onShutdown("relay", "reconciler", stopReconciler);
  service.shutdown.onShutdown("relay", "outbox-relay", () => relay.stop());
  service.shutdown.onShutdown("pools", "postgres", () => db.destroy());
  return { service, deps };
}
