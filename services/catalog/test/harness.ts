import { randomBytes } from "node:crypto";
import type { Metadata } from "@grpc/grpc-js";
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { dropDatabase } from "@shopmesh/platform/db";
import { type Client, closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createLogger } from "@shopmesh/platform/logger";
import { startService } from "@shopmesh/platform/service";
import { createTestTokens } from "@shopmesh/platform/testing/test-tokens";
import { openCatalogDb } from "../src/database.ts";
import { createEventHandler } from "../src/events.ts";
import { createCatalogHandlers } from "../src/handlers.ts";
import { createProductCommands } from "../src/products.ts";

/** The customer id the harness's customer token carries. */
export const CUSTOMER_ID = "0190a000-0000-7000-8000-00000000c001";

/** Starts the catalog handlers in-process on a throwaway database named for this run. */
export async function startCatalog() {
  const name = `shopmesh_catalog_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  const { db } = await openCatalogDb(name, { role: "postgres", poolSize: 10 });
  const products = createProductCommands({ db });
  const tokens = await createTestTokens();
  const service = await startService({
    name: "catalog",
    port: 0,
    host: "127.0.0.1",
    logger: createLogger("catalog-test", process.env.TEST_LOG_LEVEL ?? "silent"),
    handleSignals: false,
    authenticate: tokens.authenticator(),
    services: [[CatalogService, createCatalogHandlers({ db, products })]] as const,
  });
  const client: Client<typeof CatalogService> = createClient(
    CatalogService,
    `127.0.0.1:${service.port}`,
    {
      timeoutMs: 10_000,
      breaker: false,
    },
  );
  const admin: Metadata = tokens.bearer(
    await tokens.sign({
      sub: "0190a000-0000-7000-8000-00000000a001",
      roles: ["customer", "admin"],
    }),
  );
  const customer: Metadata = tokens.bearer(await tokens.sign({ sub: CUSTOMER_ID }));
  return {
    db,
    client,
    products,
    admin,
    customer,
    handleEvent: createEventHandler({ db, applyRating: products.applyRating }),
    async close() {
      await service.stop();
      closeClients();
      await db.destroy();
      await dropDatabase(name);
    },
  };
}

/** A running catalog harness. */
export type CatalogHarness = Awaited<ReturnType<typeof startCatalog>>;
