import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { DescMessage } from "@bufbuild/protobuf";
import { InventoryService } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { createPool, dropDatabase, ensureDatabase } from "@shopmesh/platform/db";
import { decodeEnvelope, encodeEvent, type NewEvent } from "@shopmesh/platform/event-envelope";
import { type Client, closeClients, createClient } from "@shopmesh/platform/grpc-client";
import type { ConsumedEvent } from "@shopmesh/platform/kafka-consumer";
import { createLogger } from "@shopmesh/platform/logger";
import { runMigrations } from "@shopmesh/platform/migrations";
import { platformMigrations } from "@shopmesh/platform/platform-migrations";
import { startService } from "@shopmesh/platform/service";
import { createTestTokens, type TestTokens } from "@shopmesh/platform/testing/test-tokens";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { Kysely, PostgresDialect } from "kysely";
import type pg from "pg";
import { createEventHandler } from "../src/events.ts";
import { createInventoryHandlers } from "../src/handlers.ts";
import { createReservationCommands } from "../src/reservations.ts";
import { createStockCommands } from "../src/stock-commands.ts";
import type { InventoryDb } from "../src/store.ts";

/** A running inventory service on a throwaway database, with tokens and a client. */
export interface InventoryHarness {
  db: Kysely<InventoryDb>;
  client: Client<typeof InventoryService>;
  tokens: TestTokens;
  reservations: ReturnType<typeof createReservationCommands>;
  stock: ReturnType<typeof createStockCommands>;
  handleEvent: ReturnType<typeof createEventHandler>;
  /** `authorization` metadata of an admin and of a customer. */
  admin: Awaited<ReturnType<TestTokens["bearer"]>>;
  customer: Awaited<ReturnType<TestTokens["bearer"]>>;
  /**
   * Runs `fn` and returns the statements it sent to Postgres (BEGIN and COMMIT included): each
   * one is a round trip, which is what the hot paths are measured in. Only meaningful while
   * nothing else uses the database, as in a test file's sequential tests.
   */
  statementsOf(fn: () => Promise<unknown>): Promise<string[]>;
  /** A new tracked variant with `onHand` units (an INITIAL adjustment); returns its id. */
  variantWith(onHand: number): Promise<string>;
  /**
   * The reservation commands of another replica on the same database: it remembers no
   * reservation, so its transitions start from a read.
   */
  otherReplica(): ReturnType<typeof createReservationCommands>;
  close(): Promise<void>;
}

/**
 * Starts the inventory handlers in-process on a fresh database named for this run, so test
 * files and engineers sharing the Postgres server never see each other's rows.
 */
export async function startInventory(
  options: { now?: () => Date } = {},
): Promise<InventoryHarness> {
  const name = `shopmesh_inventory_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  const logger = createLogger("inventory-test", process.env.TEST_LOG_LEVEL ?? "silent");
  const connection = await ensureDatabase(name, { role: "postgres" });
  const pool = createPool({ ...connection, poolSize: 20 });
  const sent: string[] = [];
  pool.on("connect", (client: pg.PoolClient) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      sent.push(typeof args[0] === "string" ? args[0] : String((args[0] as pg.QueryConfig).text));
      return query(...args);
    };
  });
  const db = new Kysely<InventoryDb>({ dialect: new PostgresDialect({ pool }) });
  await runMigrations(db as never, {
    migrations: platformMigrations,
    folder: fileURLToPath(new URL("../src/migrations", import.meta.url)),
  });
  const reservationsOf = () =>
    createReservationCommands({
      db,
      defaultTtlMs: 15 * 60_000,
      ...(options.now ? { now: options.now } : {}),
    });
  const reservations = reservationsOf();
  const stock = createStockCommands({ db, defaultLowStockThreshold: 5 });
  const tokens = await createTestTokens();
  const service = await startService({
    name: "inventory",
    port: 0,
    host: "127.0.0.1",
    logger,
    handleSignals: false,
    authenticate: tokens.authenticator(),
    services: [[InventoryService, createInventoryHandlers({ db, reservations, stock })]] as const,
  });
  const client = createClient(InventoryService, `127.0.0.1:${service.port}`, {
    timeoutMs: 30_000,
    breaker: false,
  });
  const admin = tokens.bearer(
    await tokens.sign({
      sub: "0190a000-0000-7000-8000-00000000a001",
      roles: ["customer", "admin"],
    }),
  );
  const customer = tokens.bearer(
    await tokens.sign({ sub: "0190a000-0000-7000-8000-00000000c001" }),
  );
  return {
    db,
    client,
    tokens,
    reservations,
    stock,
    handleEvent: createEventHandler({ db, reservations, stock, logger }),
    admin,
    customer,
    async statementsOf(fn) {
      const from = sent.length;
      await fn();
      return sent.slice(from);
    },
    otherReplica: reservationsOf,
    async variantWith(onHand) {
      const variantId = uuidv7();
      await stock.adjustStock({
        variantId,
        change: { setOnHand: onHand },
        reason: "INITIAL",
        note: "",
        actorUserId: "test",
        idempotencyKey: `init-${variantId}`,
      });
      return variantId;
    },
    async close() {
      await service.stop();
      closeClients();
      await db.destroy();
      await dropDatabase(name);
    },
  };
}

/** `event` as the Kafka consumer hands it to the event handler (produced by "test"). */
export function consumed<D extends DescMessage>(
  event: Omit<NewEvent<D>, "producer">,
): ConsumedEvent {
  const e = encodeEvent({ ...event, producer: "test" } as NewEvent<D>);
  return {
    envelope: decodeEnvelope(e.envelope),
    topic: e.topic,
    partition: 0,
    offset: "0",
    key: e.aggregateId,
    headers: {},
  };
}
