import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { type Kysely, sql, type Transaction } from "kysely";
import { decodeEnvelope, unpackPayload } from "../src/event-envelope.ts";
import { requestContext } from "../src/logger.ts";
import { appendToOutbox, changeWithOutbox } from "../src/outbox.ts";
import type { PlatformTables } from "../src/platform-migrations.ts";
import { createTestDatabase, sleep, type TestDatabase } from "./fixtures/outbox/support.ts";

let t: TestDatabase<PlatformTables>;
before(async () => {
  t = await createTestDatabase<PlatformTables>("shopmesh_test_append");
});
after(() => t?.drop());

function event(aggregateId: string, n = 0) {
  return {
    topic: "orders",
    aggregateType: "order",
    aggregateId,
    eventType: "order.placed",
    producer: "append-test",
    payloadSchema: StructSchema,
    payload: fromJson(StructSchema, { n }),
  };
}

/** Runs `fn` in a transaction that stays open until `release` is called. */
function openTransaction<T>(fn: (trx: Transaction<PlatformTables>) => Promise<T>) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let result: T | undefined;
  const inside = new Promise<T>((resolve, reject) => {
    t.db
      .transaction()
      .execute(async (trx) => {
        result = await fn(trx);
        resolve(result);
        await released;
      })
      .catch(reject);
  });
  return { inside, release };
}

describe("appendToOutbox", { timeout: 30_000 }, () => {
  test("one call's events get consecutive seqs per aggregate, and ids in call order", async () => {
    const appended = await t.db
      .transaction()
      .execute((trx) =>
        appendToOutbox(trx, [event("x1", 1), event("y1", 2), event("x1", 3), event("x1", 4)]),
      );

    assert.deepEqual(
      appended.map((a) => a.seq),
      [1, 1, 2, 3],
    );
    const ids = appended.map((a) => BigInt(a.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => (a < b ? -1 : 1)),
    );
  });

  test("a second writer of an aggregate waits for the first to commit, then takes the next seq and a larger id than anything committed before it", async () => {
    const first = openTransaction((trx) => appendToOutbox(trx, event("x2")));
    const [a] = await first.inside;
    // Another aggregate's writer takes an id meanwhile.
    const [other] = await t.db.transaction().execute((trx) => appendToOutbox(trx, event("z2")));
    let secondDone = false;
    const second = t.db
      .transaction()
      .execute((trx) => appendToOutbox(trx, event("x2")))
      .then((r) => {
        secondDone = true;
        return r;
      });
    await sleep(300);
    assert.equal(secondDone, false, "the second writer waits on the aggregate's sequence row");

    first.release();
    const [b] = await second;

    assert.equal(a?.seq, 1);
    assert.equal(b?.seq, 2);
    assert.ok(BigInt(b!.id) > BigInt(other!.id), "its id is taken after the first committed");
    assert.ok(BigInt(b!.id) > BigInt(a!.id));
  });

  test("a rolled-back transaction leaves neither its events nor a gap in the seqs", async () => {
    await assert.rejects(
      t.db.transaction().execute(async (trx) => {
        await appendToOutbox(trx, [event("x3"), event("x3")]);
        throw new Error("business rule failed");
      }),
    );
    const [next] = await t.db.transaction().execute((trx) => appendToOutbox(trx, event("x3")));

    assert.equal(next?.seq, 1);
    const rows = await t.db
      .selectFrom("outbox")
      .select("seq")
      .where("aggregate_id", "=", "x3")
      .execute();
    assert.deepEqual(
      rows.map((r) => r.seq),
      ["1"],
    );
  });

  test("stores the envelope the relay sends, with the request's correlation id", async () => {
    const [appended] = await requestContext.run({ correlationId: "corr-7" }, () =>
      t.db.transaction().execute((trx) => appendToOutbox(trx, event("x4", 42))),
    );
    const row = await t.db
      .selectFrom("outbox")
      .selectAll()
      .where("id", "=", appended!.id)
      .executeTakeFirstOrThrow();

    const envelope = decodeEnvelope(row.envelope);
    assert.equal(envelope.eventId, appended?.eventId);
    assert.equal(envelope.eventType, "order.placed");
    assert.equal(envelope.eventVersion, 1);
    assert.equal(envelope.aggregateId, "x4");
    assert.equal(envelope.aggregateType, "order");
    assert.equal(envelope.producer, "append-test");
    assert.equal(envelope.correlationId, "corr-7");
    assert.equal(row.correlation_id, "corr-7");
    assert.deepEqual(toJson(StructSchema, unpackPayload(envelope, StructSchema)), { n: 42 });
  });

  test("refuses to write outside a transaction, where the event could commit without its state change", async () => {
    await assert.rejects(
      appendToOutbox(t.db as unknown as Transaction<PlatformTables>, event("x5")),
      /needs the transaction/,
    );
    const db: Kysely<PlatformTables> = t.db;
    const rows = await db
      .selectFrom("outbox")
      .select("id")
      .where("aggregate_id", "=", "x5")
      .execute();
    assert.equal(rows.length, 0);
  });
});

describe("changeWithOutbox", { timeout: 30_000 }, () => {
  // A stand-in for a service's own row: the guarded change is an optimistic UPDATE.
  before(async () => {
    await sql`CREATE TABLE counters (id text PRIMARY KEY, version int NOT NULL)`.execute(t.db);
    await sql`INSERT INTO counters VALUES ('c1', 1)`.execute(t.db);
  });
  const bump = (from: number) => ({
    change: sql`bumped AS (
      UPDATE counters SET version = version + 1 WHERE id = 'c1' AND version = ${from}
      RETURNING version)`,
    result: sql<{ version: number }>`SELECT version FROM bumped`,
  });
  const outboxOf = (aggregateId: string) =>
    t.db
      .selectFrom("outbox")
      .select(["seq", "event_type"])
      .where("aggregate_id", "=", aggregateId)
      .orderBy("id")
      .execute();

  test("makes the change and appends its events in one statement, numbered after earlier ones", async () => {
    await t.db.transaction().execute((trx) => appendToOutbox(trx, event("y9", 1)));

    const rows = await changeWithOutbox(t.db, bump(1), [event("y9", 2), event("y9", 3)]);

    assert.deepEqual(rows, [{ version: 2 }]);
    assert.deepEqual(
      (await outboxOf("y9")).map((r) => r.seq),
      ["1", "2", "3"],
    );
  });

  test("appends nothing when the guarded change matched no row", async () => {
    const rows = await changeWithOutbox(t.db, bump(1), [event("y10")]);

    assert.deepEqual(rows, []);
    assert.deepEqual(await outboxOf("y10"), []);
    const { rows: counter } = await sql<{
      version: number;
    }>`SELECT version FROM counters WHERE id = 'c1'`.execute(t.db);
    assert.equal(counter[0]?.version, 2);
  });

  test("rolls the change back with the events when the append fails", async () => {
    const bad = { ...event("y11"), topic: null as unknown as string };
    await assert.rejects(changeWithOutbox(t.db, bump(2), [bad]));
    const { rows } = await sql<{
      version: number;
    }>`SELECT version FROM counters WHERE id = 'c1'`.execute(t.db);
    assert.equal(rows[0]?.version, 2);
  });
});
