import { fileURLToPath } from "node:url";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { createJwtAuthenticator } from "@shopmesh/platform/auth";
import { createDb, ensureDatabase } from "@shopmesh/platform/db";
import type { Authenticate } from "@shopmesh/platform/grpc-server";
import { createKafka, ensureTopics } from "@shopmesh/platform/kafka";
import { createLogger, type Logger } from "@shopmesh/platform/logger";
import { runMigrations } from "@shopmesh/platform/migrations";
import { startOutboxRelay } from "@shopmesh/platform/outbox-relay";
import { platformMigrations } from "@shopmesh/platform/platform-migrations";
import { createSealer } from "@shopmesh/platform/sealed-secrets";
import { type RunningService, startService } from "@shopmesh/platform/service";
import { methodPath } from "@shopmesh/platform/service-definition";
import { createAccessTokens } from "./access-tokens.ts";
import { ensureBootstrapAdmin } from "./bootstrap-admin.ts";
import type { UserConfig } from "./config.ts";
import { DEFAULT_SCRYPT } from "./domain/password-hash.ts";
import { USERS_TOPIC } from "./events.ts";
import { type CardDirectory, createUserHandlers } from "./handlers.ts";
import { createKeyEncryption } from "./key-encryption.ts";
import { notificationPublicKey } from "./notification-key.ts";
import { paymentServiceCards } from "./payment-cards.ts";
import { purgeAttempts } from "./store/auth-attempts.ts";
import type { Db, UserDatabase } from "./store/tables.ts";

// RPCs that need no caller. A browser sends its (possibly expired) access token along with
// Refresh or Login, and the edge forwards it; verifying it there would lock the user out.
const PUBLIC_RPCS = new Set(
  [
    UserService.method.register,
    UserService.method.verifyEmail,
    UserService.method.resendVerification,
    UserService.method.login,
    UserService.method.refresh,
    UserService.method.logout,
    UserService.method.requestPasswordReset,
    UserService.method.resetPassword,
    UserService.method.getJwks,
  ].map(methodPath),
);

function skipOnPublicRpcs(authenticate: Authenticate): Authenticate {
  return (metadata, path) => (PUBLIC_RPCS.has(path) ? undefined : authenticate(metadata, path));
}

const MIGRATIONS = fileURLToPath(new URL("./migrations", import.meta.url));
const DAY_MS = 24 * 3600_000;

/** Overrides for tests: a stand-in card directory, a quiet logger, no signal handlers. */
export interface UserServiceOptions {
  cards?: CardDirectory;
  logger?: Logger;
  handleSignals?: boolean;
}

/** A started user service, with its database handle for tests that inspect it. */
export interface RunningUserService {
  service: RunningService;
  port: number;
  db: Db;
  stop(): Promise<boolean>;
}

/**
 * Boots the user service: database (created and migrated), signing key, the notification
 * sealing key, Kafka topic and the outbox relay, then the gRPC server with JWT authentication
 * against its own keys. Everything opened here is closed by the service's shutdown sequence.
 */
export async function startUserService(
  config: UserConfig,
  options: UserServiceOptions = {},
): Promise<RunningUserService> {
  const logger = options.logger ?? createLogger("user");
  const connection = await ensureDatabase(config.dbName, { logger });
  const db = createDb<UserDatabase>({ ...connection, applicationName: "user-service" });
  try {
    await runMigrations(db as never, {
      migrations: platformMigrations,
      folder: MIGRATIONS,
      logger,
    });
    const scrypt = { ...DEFAULT_SCRYPT, N: config.scryptN };
    const tokens = await createAccessTokens({
      db,
      keyEncryption: createKeyEncryption(config.keyEncryptionKey),
      ttlSeconds: config.accessTokenTtlSeconds,
      logger,
    });
    const sealer = await createSealer(await notificationPublicKey(config));
    await ensureBootstrapAdmin(
      db,
      { email: config.bootstrapAdminEmail, password: config.bootstrapAdminPassword },
      scrypt,
      logger,
    );
    const kafka = createKafka({ clientId: "user-service", brokers: config.kafkaBrokers, logger });
    await ensureTopics(kafka, [{ topic: USERS_TOPIC, numPartitions: 6 }], { logger });

    const handlers = createUserHandlers({
      db,
      tokens,
      sealer,
      cards: options.cards ?? paymentServiceCards(config.paymentAddr),
      logger,
      scrypt,
      throttle: {
        maxFailuresPerEmail: config.loginMaxFailuresPerEmail,
        maxFailuresPerAddress: config.loginMaxFailuresPerIp,
        windowMs: config.loginWindowSeconds * 1000,
      },
      refreshTtlMs: config.refreshTokenTtlDays * DAY_MS,
    });
    const service = await startService({
      name: "user",
      port: config.grpcPort,
      metricsPort: config.metricsPort,
      services: [[UserService, handlers]],
      authenticate: skipOnPublicRpcs(createJwtAuthenticator({ jwks: () => tokens.jwks() })),
      logger,
      handleSignals: options.handleSignals ?? true,
    });

    const relay = config.runRelay ? startOutboxRelay({ connection, kafka, logger }) : undefined;
    const purge = setInterval(() => {
      purgeAttempts(db, DAY_MS).catch((err) =>
        logger.warn({ err }, "purging auth_attempts failed"),
      );
    }, 600_000);
    purge.unref();
    if (relay) service.shutdown.onShutdown("relay", "outbox-relay", () => relay.stop());
    service.shutdown.onShutdown("pools", "postgres", async () => {
      clearInterval(purge);
      await db.destroy();
    });
    return { service, port: service.port, db, stop: () => service.stop() };
  } catch (err) {
    await db.destroy();
    throw err;
  }
}
