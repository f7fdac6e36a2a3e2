import { PaymentService } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { dropDatabase } from "@shopmesh/platform/db";
import { type Client, closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createLogger } from "@shopmesh/platform/logger";
import { createTestIssuer, type TestIssuer } from "@shopmesh/platform/testing/test-tokens";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { type PaymentApp, startPaymentApp } from "../../src/app.ts";
import { loadPaymentConfig } from "../../src/config.ts";

/** A payment service on a throwaway database, with a client and a token issuer. */
export interface PaymentHarness {
  app: PaymentApp;
  client: Client<typeof PaymentService>;
  issuer: TestIssuer;
  /** The throwaway database the service runs on. */
  dbName: string;
  stop(): Promise<void>;
}

/** Starts the service in-process on a fresh database; `stop()` removes everything again. */
export async function startPaymentHarness(
  env: Record<string, string> = {},
): Promise<PaymentHarness> {
  const dbName = `test_payments_${uuidv7().replaceAll("-", "").slice(-12)}`;
  const issuer = await createTestIssuer();
  const config = loadPaymentConfig({
    ...process.env,
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    DB_NAME: dbName,
    PAYMENT_GATEWAY_HANG_MS: "5000",
    PAYMENT_GATEWAY_SLOW_MS: "1500",
    PAYMENT_RECONCILE_INTERVAL_MS: "0",
    ...env,
  });
  const app = await startPaymentApp(config, {
    authenticate: issuer.authenticate,
    handleSignals: false,
    logger: createLogger("payment-test", process.env.LOG_LEVEL ?? "warn"),
  });
  const client = createClient(PaymentService, `127.0.0.1:${app.service.port}`, {
    breaker: false,
    retry: { maxAttempts: 1 },
    timeoutMs: 5_000,
  });
  return {
    app,
    client,
    issuer,
    dbName,
    async stop() {
      closeClients();
      await app.service.stop("test finished");
      await dropDatabase(dbName, { role: dbName });
    },
  };
}
