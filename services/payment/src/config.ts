import { type ConfigOf, int, loadConfig, servicePorts, str } from "@shopmesh/platform/config";

const spec = {
  dbName: str("DB_NAME", { default: "shopmesh_payments" }),
  kafkaBrokers: str("KAFKA_BROKERS", { default: "127.0.0.1:9092" }),
  userAddr: str("USER_ADDR", { default: "127.0.0.1:50051" }),
  /** How long a "hang" test card keeps the caller waiting (its charge still goes through). */
  gatewayHangMs: int("PAYMENT_GATEWAY_HANG_MS", { default: 30_000, min: 0 }),
  /** How long a "slow" test card takes to succeed. */
  gatewaySlowMs: int("PAYMENT_GATEWAY_SLOW_MS", { default: 1_500, min: 0 }),
  /** Percentage of charges the simulated gateway fails at random (soak tests). */
  gatewayFailurePercent: int("PAYMENT_GATEWAY_FAILURE_PERCENT", { default: 0, min: 0, max: 100 }),
  /** How often pending charges nobody came back for are resolved with the gateway; 0 = never. */
  reconcileIntervalMs: int("PAYMENT_RECONCILE_INTERVAL_MS", { default: 30_000, min: 0 }),
};

/** The payment service's configuration, read once at boot. */
export type PaymentConfig = ConfigOf<typeof spec & ReturnType<typeof servicePorts>>;

/** Reads and validates the payment service's environment (see services/README.md). */
export function loadPaymentConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): PaymentConfig {
  return loadConfig({ ...servicePorts(50056, env), ...spec }, env);
}
