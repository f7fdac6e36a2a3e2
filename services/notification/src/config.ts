import {
  type ConfigOf,
  consumerGroup,
  int,
  loadConfig,
  port,
  servicePorts,
  str,
} from "@shopmesh/platform/config";

const DEFAULT_KEY_FILE = new URL("../../../.infra/keys/notification-jwe.json", import.meta.url)
  .pathname;

const spec = {
  dbName: str("DB_NAME", { default: "shopmesh_notifications" }),
  kafkaBrokers: str("KAFKA_BROKERS", { default: "127.0.0.1:9092" }),
  userAddr: str("USER_ADDR", { default: "127.0.0.1:50051" }),
  smtpHost: str("SMTP_HOST", { default: "127.0.0.1" }),
  smtpPort: port("SMTP_PORT", { default: 1025 }),
  mailFrom: str("NOTIFICATION_MAIL_FROM", { default: "shopmesh <no-reply@shopmesh.local>" }),
  /** Storefront origin for links in e-mails (orders, password reset). */
  storefrontUrl: str("STOREFRONT_URL", { default: "http://localhost:8080" }),
  /** The group's name is also the inbox's. */
  ...consumerGroup("notification-service"),
  /** Topics consumed, comma-separated. */
  topics: str("NOTIFICATION_TOPICS", { default: "users,orders,shipments" }),
  /** Private JWK(s) opening sealed codes and tokens; see services/user/README.md. */
  privateJwk: str("NOTIFICATION_PRIVATE_JWK", { default: "" }),
  keyFile: str("NOTIFICATION_JWE_KEY_FILE", { default: DEFAULT_KEY_FILE }),
  /** How often the dispatcher looks for due messages without being woken. */
  dispatchPollMs: int("NOTIFICATION_DISPATCH_POLL_MS", { default: 2_000, min: 10 }),
};

/** The notification service's configuration, read once at boot. */
export type NotificationConfig = ConfigOf<typeof spec & ReturnType<typeof servicePorts>>;

/** Reads and validates the notification service's environment (see services/README.md). */
export function loadNotificationConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): NotificationConfig {
  return loadConfig({ ...servicePorts(50058, env), ...spec }, env);
}
