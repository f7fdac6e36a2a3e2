import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { PaymentSuccessfulSchema } from "@shopmesh/gen/shopmesh/events/v1/payment_events_pb.js";
import { createDb, dropDatabase, ensureDatabase } from "@shopmesh/platform/db";
import { decodeEnvelope, encodeEvent } from "@shopmesh/platform/event-envelope";
import { createLogger } from "@shopmesh/platform/logger";
import { runMigrations } from "@shopmesh/platform/migrations";
import { platformMigrations } from "@shopmesh/platform/platform-migrations";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { sql } from "kysely";
import { nextStepKind } from "../src/domain/next-step.ts";
import * as saga from "../src/domain/transitions.ts";
import { createEventHandler, orderEvents } from "../src/events.ts";
import { up as setSagaFlagsAtPlacement } from "../src/migrations/002_saga_flags_at_placement.ts";
import {
  createOrderStore,
  DuplicateIdempotencyKeyError,
  type OrderDb,
  type OrderStore,
} from "../src/store.ts";

const DB = `shopmesh_order_store_test_${randomUUID().slice(0, 8)}`;
let db: OrderDb;
let store: OrderStore;

before(async () => {
  const connection = await ensureDatabase(DB);
  db = createDb({ ...connection, poolSize: 4 });
  await runMigrations(db as never, {
    migrations: platformMigrations,
    folder: fileURLToPath(new URL("../src/migrations", import.meta.url)),
  });
  store = createOrderStore(db, orderEvents);
});
after(async () => {
  await db?.destroy();
  await dropDatabase(DB, { role: DB }).catch(() => undefined);
});

const money = (amountMinor: number) => ({ currencyCode: "USD", amountMinor });

/** Places an order (PENDING, due for the saga) and returns its id. */
async function placed(idempotencyKey = randomUUID(), userId = uuidv7()): Promise<string> {
  const now = new Date();
  const t = saga.placeOrder({
    id: uuidv7(),
    userId,
    idempotencyKey,
    items: [],
    shippingAddress: {
      fullName: "A",
      line1: "1 Main St",
      line2: "",
      city: "Austin",
      region: "TX",
      postalCode: "78701",
      countryCode: "US",
      phone: "",
    },
    serviceLevel: 1,
    carrierCode: "ACME",
    currencyCode: "USD",
    totals: {
      subtotal: money(1000),
      shipping: money(500),
      tax: money(0),
      discount: money(0),
      total: money(1500),
    },
    now,
    reserveDeadlineAt: new Date(now.getTime() + 60_000),
  });
  await store.insert(t, "hash", "tok_visa");
  return t.order.id;
}

const reserved = (o: Parameters<typeof saga.markStockReserved>[0]) =>
  saga.markStockReserved(o, {
    reservationId: "r1",
    at: new Date(),
    paymentDeadlineAt: new Date(Date.now() + 60_000),
  });

const paid = (o: Parameters<typeof saga.markPaid>[0], paymentId = "p1") =>
  saga.markPaid(o, {
    at: new Date(),
    payment: { paymentId, card: undefined, amount: money(1500), refundedAmount: money(0) },
  });

/** payment.successful for an order, as the consumer receives it. */
const paymentSucceeded = (orderId: string, paymentId: string) =>
  decodeEnvelope(
    encodeEvent({
      topic: "payments",
      aggregateType: "payment",
      aggregateId: paymentId,
      eventType: "payment.successful",
      producer: "payment",
      payloadSchema: PaymentSuccessfulSchema,
      payload: create(PaymentSuccessfulSchema, {
        paymentId,
        orderId,
        amount: { currencyCode: "USD", amountMinor: 1500n },
      }),
    }).envelope,
  );

/** An order store over `db` that counts the queries it sends. */
function countingStore() {
  let count = 0;
  const counted = db.withPlugin({
    transformQuery: (args) => {
      count++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  });
  return {
    store: createOrderStore(counted, orderEvents),
    queries: {
      count: () => count,
      reset: () => {
        count = 0;
      },
    },
  };
}

const outboxTypes = async (orderId: string) =>
  (
    await db
      .selectFrom("outbox")
      .select("event_type")
      .where("aggregate_id", "=", orderId)
      .orderBy("id")
      .execute()
  ).map((r) => r.event_type);

describe("order store", { timeout: 30_000 }, () => {
  test("insert writes the order, its first history entry and order.placed; a reused key writes nothing", async () => {
    const [key, user] = [randomUUID(), uuidv7()];
    const id = await placed(key, user);

    await assert.rejects(placed(key, user), DuplicateIdempotencyKeyError);

    const full = await store.get(id);
    assert.equal(full?.order.status, "PENDING");
    assert.deepEqual(
      full?.order.statusHistory.map((h) => h.status),
      ["PENDING"],
    );
    assert.deepEqual(await outboxTypes(id), ["order.placed"]);
    const orders = await db.selectFrom("orders").select("id").where("idempotency_key", "=", key);
    assert.equal((await orders.execute()).length, 1);
  });

  test("a change to the state the saga knows is saved with its history and events, and the next one builds on it", async () => {
    const id = await placed();
    const known = (await store.claim(id, 30_000))!;

    const first = await store.applyStored(id, reserved, { known, withHistory: false });
    const second = await store.applyStored(id, paid, { known: first, withHistory: false });

    assert.notEqual(first?.rowVersion, known.rowVersion);
    assert.equal(second?.order.status, "PAID");
    const full = await store.get(id);
    assert.equal(full?.order.status, "PAID");
    assert.equal(full?.paymentToken, null, "the token is dropped once the charge settled");
    assert.deepEqual(
      full?.order.statusHistory.map((h) => h.status),
      ["PENDING", "STOCK_RESERVED", "PAID"],
    );
  });

  test("a change to a state that moved on meanwhile is applied to the current state instead", async () => {
    const id = await placed();
    const stale = (await store.claim(id, 30_000))!;
    // A cancel lands while the saga's reserve call is out.
    await store.apply(id, (o) =>
      saga.cancelOrder(o, {
        reason: "USER_REQUESTED",
        detail: "",
        byUserId: o.userId,
        at: new Date(),
      }),
    );

    const applied = await store.applyStored(id, reserved, { known: stale, withHistory: false });

    assert.equal(applied?.order.status, "CANCELLED");
    const full = await store.get(id);
    assert.equal(full?.order.status, "CANCELLED");
    assert.deepEqual(
      full?.order.statusHistory.map((h) => h.status),
      ["PENDING", "CANCELLED"],
      "no STOCK_RESERVED entry from the stale state",
    );
    assert.deepEqual(await outboxTypes(id), ["order.placed", "order.cancelled"]);
    assert.equal(nextStepKind(full!.order), "release_stock");
  });

  test("an event is applied once: a redelivery, an event the order already reflects and an unknown order write nothing", async () => {
    const id = await placed();
    const event = { consumer: "order-test", eventId: randomUUID() };
    const inboxRows = () =>
      db.selectFrom("inbox").select("event_id").where("consumer", "=", "order-test").execute();

    const changed = await store.applyEvent(id, event, reserved);
    const redelivered = await store.applyEvent(id, event, reserved);
    const repeated = await store.applyEvent(id, { ...event, eventId: randomUUID() }, reserved);
    const unknown = await store.applyEvent(uuidv7(), { ...event, eventId: randomUUID() }, reserved);

    assert.equal(changed?.status, "STOCK_RESERVED");
    assert.equal(redelivered, undefined);
    assert.equal(repeated, undefined, "already STOCK_RESERVED: nothing to write");
    assert.equal(unknown, undefined);
    const full = await store.get(id);
    assert.deepEqual(
      full?.order.statusHistory.map((h) => h.status),
      ["PENDING", "STOCK_RESERVED"],
    );
    assert.deepEqual(
      (await inboxRows()).map((r) => r.event_id),
      [event.eventId],
      "only the event that changed the order is recorded",
    );
  });

  test("concurrent deliveries of one event apply it once, even a change that is not idempotent", async () => {
    const id = await placed();
    const event = { consumer: "order-test-race", eventId: randomUUID() };
    // Appends a history entry every time it runs: applied twice, it would show twice.
    const note = (o: Parameters<typeof reserved>[0]) => ({
      order: {
        ...o,
        statusHistory: [...o.statusHistory, { status: o.status, at: new Date(), note: "noted" }],
      },
      events: [],
    });

    const results = await Promise.all(
      Array.from({ length: 8 }, () => store.applyEvent(id, event, note)),
    );
    const redelivered = await store.applyEvent(id, event, note);

    assert.equal(results.filter(Boolean).length, 1, "exactly one delivery wrote");
    assert.equal(redelivered, undefined);
    const full = await store.get(id);
    assert.deepEqual(
      full?.order.statusHistory.map((h) => h.note),
      ["order placed", "noted"],
    );
  });

  test("payment.successful for an order this process saw charged is acknowledged without a query; another replica reads it and changes nothing; an uncharged order is marked paid", async () => {
    // This process's store, counting its queries, and another replica's, which saw nothing.
    const { store: here, queries } = countingStore();
    const there = createOrderStore(db, orderEvents);
    const handler = (store: OrderStore) =>
      createEventHandler({
        store,
        logger: createLogger("order-test", "silent"),
        groupId: "order-test-charge",
        onChanged: () => {},
      });

    const chargedId = await placed();
    const known = (await here.claim(chargedId, 30_000))!;
    const reservedOrder = (await here.applyStored(chargedId, reserved, { known }))!;
    await here.applyStored(chargedId, (o) => paid(o, "p-charged"), { known: reservedOrder });
    const before = (await store.get(chargedId))!;

    queries.reset();
    await handler(here)({ envelope: paymentSucceeded(chargedId, "p-charged") });
    assert.equal(queries.count(), 0, "no read for an order this process saved charged");
    await handler(there)({ envelope: paymentSucceeded(chargedId, "p-charged") });
    const after = (await store.get(chargedId))!;
    assert.equal(after.rowVersion, before.rowVersion, "the other replica wrote nothing");
    assert.deepEqual(
      after.order.statusHistory.map((h) => h.status),
      ["PENDING", "STOCK_RESERVED", "PAID"],
    );

    const uncharged = await placed();
    await here.apply(uncharged, reserved);
    await handler(here)({ envelope: paymentSucceeded(uncharged, "p-late") });
    const marked = (await store.get(uncharged))!;
    assert.equal(marked.order.status, "PAID");
    assert.equal(marked.order.payment?.paymentId, "p-late");
  });

  test("payment.successful for an order whose saga run is in hand here waits for the run: no query when the run saved the charge, marked paid when it did not", async () => {
    const { store: here, queries } = countingStore();
    const runs = new Map<string, Promise<void>>();
    const handle = createEventHandler({
      store: here,
      logger: createLogger("order-test", "silent"),
      groupId: "order-test-run",
      onChanged: () => {},
      sagaRun: (id) => runs.get(id),
    });
    const deferred = () => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      return { promise, resolve };
    };

    // The run saves the charge while the event waits for it.
    const savedId = await placed();
    const known = (await here.claim(savedId, 30_000))!;
    const reservedOrder = (await here.applyStored(savedId, reserved, { known }))!;
    const run = deferred();
    runs.set(savedId, run.promise);
    let handled = false;
    const handling = handle({ envelope: paymentSucceeded(savedId, "p-run") }).then(() => {
      handled = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(handled, false, "the event waits for the run");
    await here.applyStored(savedId, (o) => paid(o, "p-run"), { known: reservedOrder });
    queries.reset();
    run.resolve();
    await handling;
    assert.equal(queries.count(), 0, "the run recorded the charge: the event costs no query");

    // The run ends without saving the charge: the event marks the order paid itself.
    const unsavedId = await placed();
    await here.apply(unsavedId, reserved);
    const failed = deferred();
    runs.set(unsavedId, failed.promise);
    const pending = handle({ envelope: paymentSucceeded(unsavedId, "p-unsaved") });
    failed.resolve();
    await pending;
    const marked = (await store.get(unsavedId))!;
    assert.equal(marked.order.status, "PAID");
    assert.equal(marked.order.payment?.paymentId, "p-unsaved");

    // A run that does not end in time is not waited for beyond the bound.
    const stuckId = await placed();
    await here.apply(stuckId, reserved);
    runs.set(stuckId, new Promise<void>(() => {}));
    await handle({ envelope: paymentSucceeded(stuckId, "p-stuck") });
    assert.equal((await store.get(stuckId))!.order.status, "PAID");
  });
  test("migration 002 gives orders placed before it the placement's saga flags, if the saga is still ahead of them", async () => {
    const pendingId = await placed();
    const cancelledId = await placed();
    await store.apply(cancelledId, (o) =>
      saga.cancelOrder(o, { reason: "USER_REQUESTED", detail: "", byUserId: "", at: new Date() }),
    );
    const legacy = '{"chargeAttempted": false, "shipmentRequested": false}';
    await sql`UPDATE orders SET saga = saga || ${legacy}::jsonb WHERE id IN (${pendingId}, ${cancelledId})`.execute(
      db,
    );
    await setSagaFlagsAtPlacement(db as never);
    const pending = (await store.get(pendingId))!.order.saga;
    assert.equal(pending.chargeAttempted, true);
    assert.equal(pending.shipmentRequested, true);
    const cancelled = (await store.get(cancelledId))!.order.saga;
    assert.equal(cancelled.chargeAttempted, false);
    assert.equal(cancelled.shipmentRequested, false);
  });
});
