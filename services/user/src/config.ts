import { fileURLToPath } from "node:url";
import { bool, type ConfigOf, int, loadConfig, servicePorts, str } from "@shopmesh/platform/config";

const DEFAULT_KEY_FILE = fileURLToPath(
  new URL("../../../.infra/keys/notification-jwe.json", import.meta.url),
);

/** The environment variables the user service reads besides its ports (services/user/README.md). */
const userConfigSpec = {
  dbName: str("DB_NAME", { default: "shopmesh_users" }),
  kafkaBrokers: str("KAFKA_BROKERS", { default: "127.0.0.1:9092" }),
  paymentAddr: str("PAYMENT_ADDR", { default: "127.0.0.1:50056" }),
  notificationPublicJwk: str("NOTIFICATION_PUBLIC_JWK", { default: "" }),
  notificationKeyFile: str("NOTIFICATION_JWE_KEY_FILE", { default: DEFAULT_KEY_FILE }),
  keyEncryptionKey: str("USER_KEY_ENCRYPTION_KEY", { default: "" }),
  accessTokenTtlSeconds: int("ACCESS_TOKEN_TTL_SECONDS", { default: 900, min: 30, max: 86_400 }),
  refreshTokenTtlDays: int("REFRESH_TOKEN_TTL_DAYS", { default: 30, min: 1, max: 365 }),
  scryptN: int("PASSWORD_SCRYPT_N", { default: 32_768, min: 16_384, max: 1_048_576 }),
  loginMaxFailuresPerEmail: int("LOGIN_MAX_FAILURES_PER_EMAIL", { default: 5, min: 1 }),
  loginMaxFailuresPerIp: int("LOGIN_MAX_FAILURES_PER_IP", { default: 20, min: 1 }),
  loginWindowSeconds: int("LOGIN_WINDOW_SECONDS", { default: 900, min: 1 }),
  bootstrapAdminEmail: str("USER_BOOTSTRAP_ADMIN_EMAIL", { default: "" }),
  bootstrapAdminPassword: str("USER_BOOTSTRAP_ADMIN_PASSWORD", { default: "" }),
  runRelay: bool("USER_OUTBOX_RELAY", { default: true }),
};

/** The user service's typed configuration. */
export type UserConfig = ConfigOf<typeof userConfigSpec & ReturnType<typeof servicePorts>>;

/** Reads and validates the configuration from `env` (the process environment by default). */
export function loadUserConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): UserConfig {
  return loadConfig({ ...servicePorts(50051, env), ...userConfigSpec }, env);
}
