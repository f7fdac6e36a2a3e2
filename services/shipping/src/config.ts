import { type ConfigOf, int, loadConfig, servicePorts, str } from "@shopmesh/platform/config";

const spec = {
  dbName: str("DB_NAME", { default: "shopmesh_shipping" }),
  kafkaBrokers: str("KAFKA_BROKERS", { default: "127.0.0.1:9092" }),
  userAddr: str("USER_ADDR", { default: "127.0.0.1:50051" }),
  /** ISO country the shop ships from; decides domestic/regional/international zones. */
  originCountry: str("SHIPPING_ORIGIN_COUNTRY", { default: "US" }),
  /** Currency carriers bill the shop in (shipment cost). */
  costCurrency: str("SHIPPING_COST_CURRENCY", { default: "USD" }),
  /**
   * Time between two status moves of the simulated carrier, per shipment; 0 turns it off
   * (parcels then move only through AdvanceShipment).
   */
  advanceIntervalMs: int("SHIPPING_ADVANCE_INTERVAL_MS", { default: 60_000, min: 0 }),
  /** Public tracking page; the tracking number is appended. */
  trackingBaseUrl: str("SHIPPING_TRACKING_BASE_URL", {
    default: "http://localhost:8080/api/v1/shipments/track/",
  }),
};

/** The shipping service's configuration, read once at boot. */
export type ShippingConfig = ConfigOf<typeof spec & ReturnType<typeof servicePorts>>;

/** Reads and validates the shipping service's environment (see services/README.md). */
export function loadShippingConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ShippingConfig {
  return loadConfig({ ...servicePorts(50057, env), ...spec }, env);
}
