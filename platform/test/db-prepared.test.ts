import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Kysely, sql } from "kysely";
import { createDb, dropDatabase, ensureDatabase } from "../src/db.ts";
import { uniqueName } from "./fixtures/outbox/support.ts";

interface Tables {
  widgets: { id: number; name: string };
}

const name = uniqueName("shopmesh_test_prepared");
let prepared: Kysely<Tables>;
let unprepared: Kysely<Tables>;

before(async () => {
  const connection = await ensureDatabase(name);
  // One connection each, so every statement below runs on the session it inspects.
  prepared = createDb<Tables>({ ...connection, poolSize: 1 });
  unprepared = createDb<Tables>({ ...connection, poolSize: 1, prepareStatements: false });
  await sql`CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL)`.execute(prepared);
  await sql`INSERT INTO widgets VALUES (1, 'one'), (2, 'two')`.execute(prepared);
});
after(async () => {
  await prepared?.destroy();
  await unprepared?.destroy();
  await dropDatabase(name, { role: name }).catch(() => {});
});

/** The statements the pool's one session holds prepared. */
async function preparedIn(db: Kysely<Tables>) {
  const { rows } = await sql<{ statement: string }>`
    SELECT statement FROM pg_prepared_statements`.execute(db);
  return rows.map((r) => r.statement);
}

const byId = (db: Kysely<Tables>, id: number) =>
  db.selectFrom("widgets").selectAll().where("id", "=", id).executeTakeFirst();

describe("prepared statements", { timeout: 30_000 }, () => {
  test("a repeated statement is prepared once per connection and answers with each call's values", async () => {
    assert.deepEqual(await byId(prepared, 1), { id: 1, name: "one" });
    assert.deepEqual(await byId(prepared, 2), { id: 2, name: "two" });
    assert.equal(await byId(prepared, 3), undefined);

    const statements = await preparedIn(prepared);
    assert.equal(statements.filter((s) => s.includes('from "widgets"')).length, 1);
  });

  test("prepareStatements: false prepares nothing", async () => {
    assert.deepEqual(await byId(unprepared, 1), { id: 1, name: "one" });
    assert.deepEqual(await preparedIn(unprepared), []);
  });

  test("a table that changed shape under a prepared statement fails that call once, then works", async () => {
    const all = () => prepared.selectFrom("widgets").selectAll().orderBy("id").execute();
    assert.equal((await all()).length, 2);

    await sql`ALTER TABLE widgets ADD COLUMN colour text`.execute(unprepared);

    await assert.rejects(all(), /cached plan must not change result type/);
    const rows = await all();
    assert.deepEqual(rows[0], { id: 1, name: "one", colour: null });
  });
});
