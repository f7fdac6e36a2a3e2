import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type Kysely, sql } from "kysely";
import pg from "pg";
import { pino } from "pino";
import { createDb, dropDatabase, ensureDatabase } from "../src/db.ts";
import { MigrationError, runMigrations } from "../src/migrations.ts";
import { platformMigrations } from "../src/platform-migrations.ts";
import { uniqueName } from "./fixtures/outbox/support.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function adminQuery<R extends pg.QueryResultRow>(text: string, values: unknown[] = []) {
  const client = new pg.Client({ database: "postgres" });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function tables(db: Kysely<unknown>): Promise<Map<string, string>> {
  const { rows } = await sql<{ tablename: string; tableowner: string }>`
    SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'`.execute(db);
  return new Map(rows.map((r) => [r.tablename, r.tableowner]));
}

async function migrationFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), "shopmesh-migrations-"));
  cleanups.push(() => rm(folder, { recursive: true, force: true }));
  await writeFile(
    join(folder, "001_widgets.ts"),
    `export async function up(db) {
       await db.schema.createTable("widget").addColumn("id", "integer", (c) => c.primaryKey()).execute();
     }\n`,
  );
  await writeFile(join(folder, "README.md"), "not a migration\n");
  return folder;
}

describe("database and migrations", { timeout: 60_000 }, () => {
  test("creates the service database, its own role and all tables; a second boot changes nothing", async () => {
    const name = uniqueName("shopmesh_test_db");
    cleanups.push(() => dropDatabase(name, { role: name }));
    const folder = await migrationFolder();

    const conn = await ensureDatabase(name, { password: "s3cret" });
    assert.equal(conn.ownRole, true);
    assert.equal(conn.user, name);
    const [owner] = await adminQuery<{ owner: string }>(
      "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1",
      [name],
    );
    assert.equal(owner?.owner, name);

    const db = createDb<unknown>({ ...conn, poolSize: 2 });
    cleanups.push(() => db.destroy());
    const first = await runMigrations(db, { migrations: platformMigrations, folder });
    assert.deepEqual(first, ["000_platform_001_outbox", "000_platform_002_inbox", "001_widgets"]);
    const created = await tables(db);
    for (const table of ["outbox", "outbox_sequence", "inbox", "widget"]) {
      assert.equal(created.get(table), name, `${table} exists and belongs to the service role`);
    }

    const again = await ensureDatabase(name, { password: "s3cret" });
    assert.equal(again.database, name);
    const second = await runMigrations(db, { migrations: platformMigrations, folder });
    assert.deepEqual(second, []);
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM kysely_migration`.execute(
      db,
    );
    assert.equal(rows[0]?.n, "3");
  });

  test("falls back to the admin user, and logs it, when the server refuses to create roles", async () => {
    const limitedAdmin = uniqueName("shopmesh_test_admin");
    await adminQuery(`CREATE ROLE "${limitedAdmin}" LOGIN CREATEDB`);
    const name = uniqueName("shopmesh_test_db");
    cleanups.push(async () => {
      await dropDatabase(name);
      await adminQuery(`DROP ROLE IF EXISTS "${limitedAdmin}"`);
    });
    const lines: { level: number; msg: string }[] = [];
    const logger = pino({}, { write: (line: string) => lines.push(JSON.parse(line)) });

    const conn = await ensureDatabase(name, { admin: { user: limitedAdmin }, logger });

    assert.equal(conn.ownRole, false);
    assert.equal(conn.user, limitedAdmin);
    const [owner] = await adminQuery<{ owner: string }>(
      "SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1",
      [name],
    );
    assert.equal(owner?.owner, limitedAdmin);
    assert.ok(
      lines.some((l) => l.level === 40 && /falling back to the admin user/.test(l.msg)),
      "a warning says the admin user is used",
    );
  });

  test("fails naming the broken migration and keeps nothing of the failed run", async () => {
    const name = uniqueName("shopmesh_test_db");
    cleanups.push(() => dropDatabase(name, { role: name }));
    const db = createDb<unknown>({ ...(await ensureDatabase(name)), poolSize: 2 });
    cleanups.push(() => db.destroy());

    await assert.rejects(
      runMigrations(db, {
        migrations: {
          ...platformMigrations,
          "001_widgets": {
            up: async (d) => {
              await sql`CREATE TABLE widget (id int)`.execute(d);
            },
          },
          "002_broken": {
            up: async (d) => {
              await sql`ALTER TABLE no_such_table ADD COLUMN x int`.execute(d);
            },
          },
        },
      }),
      (error: unknown) => {
        assert.ok(error instanceof MigrationError);
        assert.equal(error.migration, "002_broken");
        assert.match(error.message, /002_broken.*no_such_table/);
        return true;
      },
    );
    const left = await tables(db);
    assert.equal(left.has("widget"), false, "earlier migrations of the failed run rolled back");
    assert.equal(left.has("outbox"), false);
  });

  test("replicas migrating at the same time apply each migration exactly once", async () => {
    const name = uniqueName("shopmesh_test_db");
    cleanups.push(() => dropDatabase(name, { role: name }));
    const conns = await Promise.all([ensureDatabase(name), ensureDatabase(name)]);
    const dbs = conns.map((c) => createDb<unknown>({ ...c, poolSize: 2 }));
    cleanups.push(async () => {
      await Promise.all(dbs.map((d) => d.destroy()));
    });

    const runs = await Promise.all(
      dbs.map((d) => runMigrations(d, { migrations: platformMigrations })),
    );

    assert.deepEqual(runs.flat().sort(), Object.keys(platformMigrations).sort());
  });
});
