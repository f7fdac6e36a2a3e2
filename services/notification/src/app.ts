import { fileURLToPath } from "node:url";
import { NotificationService } from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { createJwtAuthenticator, jwksFromUserService } from "@shopmesh/platform/auth";
import { createDb, ensureDatabase } from "@shopmesh/platform/db";
import { createClient } from "@shopmesh/platform/grpc-client";
import type { Authenticate } from "@shopmesh/platform/grpc-server";
import { createKafka, ensureTopics } from "@shopmesh/platform/kafka";
import { createLogger, type Logger } from "@shopmesh/platform/logger";
import { runMigrations } from "@shopmesh/platform/migrations";
import { platformMigrations } from "@shopmesh/platform/platform-migrations";
import { type RunningService, startService } from "@shopmesh/platform/service";
import type { NotificationConfig } from "./config.ts";
import type { NotificationDeps } from "./deps.ts";
import { type Dispatcher, startDispatcher } from "./dispatcher.ts";
import { startNotificationConsumer } from "./events.ts";
import { createNotificationHandlers } from "./handlers.ts";
import { createSmtpMailer, type Mailer } from "./mailer.ts";
import { createSecretOpener, loadPrivateKeys } from "./sealed-secrets.ts";
import type { NotificationDatabase } from "./store.ts";

/** Overrides for tests: a local token verifier, a mailer, no signal handlers, a quiet logger. */
export interface NotificationAppOptions {
  authenticate?: Authenticate;
  logger?: Logger;
  handleSignals?: boolean;
  mailer?: Mailer;
}

/** The running notification service and the handles tests may use. */
export interface NotificationApp {
  service: RunningService;
  deps: NotificationDeps;
  dispatcher: Dispatcher;
}

/**
 * Boots the notification service: database (created and migrated), the sealing keys, the SMTP
 * mailer, the dispatcher, the event consumer and the gRPC server, all on the graceful shutdown.
 */
export async function startNotificationApp(
  config: NotificationConfig,
  options: NotificationAppOptions = {},
): Promise<NotificationApp> {
  const logger = options.logger ?? createLogger("notification");
  const connection = await ensureDatabase(config.dbName, { logger });
  const db = createDb<NotificationDatabase>({ ...connection, applicationName: "notification" });
  await runMigrations(db as never, {
    migrations: platformMigrations,
    folder: fileURLToPath(new URL("./migrations", import.meta.url)),
    logger,
  });
  const secrets = await createSecretOpener(
    await loadPrivateKeys({ privateJwk: config.privateJwk, keyFile: config.keyFile }),
  );
  const mailer =
    options.mailer ??
    createSmtpMailer({ host: config.smtpHost, port: config.smtpPort, from: config.mailFrom });
  const deps: NotificationDeps = {
    db,
    mailer,
    secrets,
    links: { storefrontUrl: config.storefrontUrl.replace(/\/$/, "") },
    logger,
    consumerName: config.kafkaGroupId,
  };
  const dispatcher = startDispatcher(deps, config.dispatchPollMs);

  const topics = config.topics
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const kafka = createKafka({ clientId: "notification", brokers: config.kafkaBrokers, logger });
  await ensureTopics(
    kafka,
    topics.map((topic) => ({ topic, numPartitions: 6 })),
    { logger },
  );
  const consumer = await startNotificationConsumer(deps, {
    kafka,
    topics,
    fromBeginning: config.kafkaFromBeginning,
    onQueued: dispatcher.kick,
  });

  const authenticate =
    options.authenticate ??
    createJwtAuthenticator({
      jwks: jwksFromUserService(createClient(UserService, config.userAddr)),
    });
  const service = await startService({
    name: "notification",
    port: config.grpcPort,
    metricsPort: config.metricsPort,
    logger,
    authenticate,
    handleSignals: options.handleSignals ?? true,
    services: [[NotificationService, createNotificationHandlers(deps)]] as const,
  });
  service.shutdown.onShutdown("consumers", "kafka-consumer", () => consumer.stop());
  service.shutdown.onShutdown("relay", "dispatcher", () => dispatcher.stop());
  service.shutdown.onShutdown("pools", "smtp", () => mailer.close());
  service.shutdown.onShutdown("pools", "postgres", () => db.destroy());
  return { service, deps, dispatcher };
}
