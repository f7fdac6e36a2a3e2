import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Generated, sql } from "kysely";
import { handleBatchOnce, handleOnce, inboxOnce } from "../src/inbox.ts";
import { changeWithOutbox } from "../src/outbox.ts";
import type { PlatformTables } from "../src/platform-migrations.ts";
import { uuidv7 } from "../src/uuid-v7.ts";
import { createTestDatabase, type TestDatabase } from "./fixtures/outbox/support.ts";

interface Tables extends PlatformTables {
  effect: { id: Generated<number>; consumer: string; event_id: string };
}

let t: TestDatabase<Tables>;

before(async () => {
  t = await createTestDatabase<Tables>("shopmesh_test_inbox", {
    "001_effect": {
      up: async (db) => {
        await sql`CREATE TABLE effect (id serial PRIMARY KEY, consumer text, event_id text)`.execute(
          db,
        );
      },
    },
  });
});
after(() => t?.drop());

async function effects(eventId: string, consumer = "stock"): Promise<number> {
  const row = await t.db
    .selectFrom("effect")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("event_id", "=", eventId)
    .where("consumer", "=", consumer)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function inboxRows(eventId: string): Promise<number> {
  const row = await t.db
    .selectFrom("inbox")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("event_id", "=", eventId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function recordEffect(consumer: string, eventId: string) {
  return async (trx: typeof t.db) => {
    await trx.insertInto("effect").values({ consumer, event_id: eventId }).execute();
    return "done";
  };
}

describe("inbox", { timeout: 30_000 }, () => {
  test("an event delivered twice produces one effect and the redelivery is acknowledged", async () => {
    const eventId = uuidv7();

    const first = await handleOnce(t.db, "stock", eventId, recordEffect("stock", eventId));
    const second = await handleOnce(t.db, "stock", eventId, recordEffect("stock", eventId));

    assert.deepEqual(first, { applied: true, result: "done" });
    assert.deepEqual(second, { applied: false });
    assert.equal(await effects(eventId), 1);
  });

  test("concurrent duplicate deliveries apply the effect exactly once", async () => {
    const eventId = uuidv7();

    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        handleOnce(t.db, "stock", eventId, async (trx) => {
          await sql`SELECT pg_sleep(0.02)`.execute(trx);
          return recordEffect("stock", eventId)(trx);
        }),
      ),
    );

    assert.equal(results.filter((r) => r.applied).length, 1);
    assert.equal(await effects(eventId), 1);
  });

  test("each consumer applies the same event once for itself", async () => {
    const eventId = uuidv7();

    await handleOnce(t.db, "stock", eventId, recordEffect("stock", eventId));
    await handleOnce(t.db, "mailer", eventId, recordEffect("mailer", eventId));
    await handleOnce(t.db, "mailer", eventId, recordEffect("mailer", eventId));

    assert.equal(await effects(eventId, "stock"), 1);
    assert.equal(await effects(eventId, "mailer"), 1);
  });

  test("a failing effect rolls back together with its inbox row, so a redelivery applies it", async () => {
    const eventId = uuidv7();

    await assert.rejects(
      handleOnce(t.db, "stock", eventId, async (trx) => {
        await recordEffect("stock", eventId)(trx);
        throw new Error("downstream failed");
      }),
      /downstream failed/,
    );
    assert.equal(await effects(eventId), 0, "no effect after the failure");
    assert.equal(await inboxRows(eventId), 0, "no inbox row after the failure");

    const retry = await handleOnce(t.db, "stock", eventId, recordEffect("stock", eventId));
    assert.equal(retry.applied, true);
    assert.equal(await effects(eventId), 1);
  });

  test("a batch applies only the events this consumer has not seen, once each, in order", async () => {
    const [seen, a, b] = [uuidv7(), uuidv7(), uuidv7()];
    await handleOnce(t.db, "stock", seen, recordEffect("stock", seen));
    let fresh: string[] = [];

    const out = await handleBatchOnce(t.db, "stock", [a, seen, b, a], async (trx, ids) => {
      fresh = ids;
      for (const id of ids) await recordEffect("stock", id)(trx);
    });

    assert.deepEqual(out.freshIds, [a, b]);
    assert.deepEqual(fresh, [a, b]);
    assert.deepEqual([await effects(a), await effects(b), await effects(seen)], [1, 1, 1]);
  });

  test("a failing batch records none of its events", async () => {
    const ids = [uuidv7(), uuidv7()];

    await assert.rejects(
      handleBatchOnce(t.db, "stock", ids, async (trx, fresh) => {
        for (const id of fresh) await recordEffect("stock", id)(trx);
        throw new Error("projection failed");
      }),
    );

    for (const id of ids) {
      assert.equal(await effects(id), 0);
      assert.equal(await inboxRows(id), 0);
    }
  });
});

describe("inboxOnce (a change made in one statement)", { timeout: 30_000 }, () => {
  /** Records an effect row and the event in one statement; [] when it was handled before. */
  async function applyOnce(eventId: string) {
    const once = inboxOnce({ consumer: "oneshot", eventId });
    try {
      return await changeWithOutbox(
        t.db,
        {
          change: sql`effected AS (
            INSERT INTO effect (consumer, event_id) SELECT 'oneshot', ${eventId} WHERE ${once.unhandled}
            RETURNING id), ${once.record("effected")}`,
          result: sql<{ id: number }>`SELECT id FROM effected`,
        },
        [],
      );
    } catch (err) {
      if (once.isDuplicate(err)) return "duplicate";
      throw err;
    }
  }

  test("a redelivery changes nothing, and concurrent duplicates apply the effect once", async () => {
    const first = uuidv7();
    assert.equal((await applyOnce(first)).length, 1);
    assert.deepEqual(await applyOnce(first), []);
    assert.equal(await effects(first, "oneshot"), 1);

    const raced = uuidv7();
    const results = await Promise.all(Array.from({ length: 8 }, () => applyOnce(raced)));

    assert.equal(await effects(raced, "oneshot"), 1);
    assert.equal(await inboxRows(raced), 1);
    assert.equal(results.filter((r) => Array.isArray(r) && r.length === 1).length, 1);
  });
});
