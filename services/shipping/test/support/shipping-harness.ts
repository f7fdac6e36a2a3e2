import { ShippingService } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { dropDatabase } from "@shopmesh/platform/db";
import { type Client, closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createLogger } from "@shopmesh/platform/logger";
import { createTestIssuer, type TestIssuer } from "@shopmesh/platform/testing/test-tokens";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { type ShippingApp, startShippingApp } from "../../src/app.ts";
import { loadShippingConfig } from "../../src/config.ts";

/** A shipping service on a throwaway database, with a client and a token issuer. */
export interface ShippingHarness {
  app: ShippingApp;
  client: Client<typeof ShippingService>;
  issuer: TestIssuer;
  stop(): Promise<void>;
}

/** Starts the service in-process on a fresh database; `stop()` removes everything again. */
export async function startShippingHarness(
  env: Record<string, string> = {},
): Promise<ShippingHarness> {
  const dbName = `test_shipping_${uuidv7().replaceAll("-", "").slice(-12)}`;
  const issuer = await createTestIssuer();
  const config = loadShippingConfig({
    ...process.env,
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    DB_NAME: dbName,
    SHIPPING_ADVANCE_INTERVAL_MS: "0",
    SHIPPING_ORIGIN_COUNTRY: "US",
    ...env,
  });
  const app = await startShippingApp(config, {
    authenticate: issuer.authenticate,
    handleSignals: false,
    logger: createLogger("shipping-test", process.env.LOG_LEVEL ?? "warn"),
  });
  const client = createClient(ShippingService, `127.0.0.1:${app.service.port}`, {
    breaker: false,
    retry: { maxAttempts: 1 },
    timeoutMs: 5_000,
  });
  return {
    app,
    client,
    issuer,
    async stop() {
      closeClients();
      await app.service.stop("test finished");
      await dropDatabase(dbName, { role: dbName });
    },
  };
}
