import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Kysely, type Migration, type MigrationResult, Migrator } from "kysely";
import type { Logger } from "./logger.ts";

export type { Migration };

/** Options of `runMigrations`: in-code migrations, a folder of them, or both. */
export interface RunMigrationsOptions {
  /** Named migrations, e.g. `{ ...platformMigrations, "001_orders": ordersMigration }`. */
  migrations?: Readonly<Record<string, Migration>>;
  /** A folder of `NNN_name.ts` files each exporting `up` (and optionally `down`). */
  folder?: string;
  logger?: Logger;
}

/** Thrown when a migration fails, naming it, so a boot log says exactly what to fix. */
export class MigrationError extends Error {
  /** The migration that failed, or undefined when the run failed before choosing one. */
  readonly migration: string | undefined;

  constructor(migration: string | undefined, cause: unknown) {
    const what = migration ? `migration ${migration} failed` : "migrations could not start";
    super(`${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "MigrationError";
    this.migration = migration;
  }
}

const MIGRATION_FILE = /^\d+_[\w-]+\.(ts|js|mjs)$/;

/**
 * Loads `NNN_name.ts` migration modules from a folder, keyed by file name without extension.
 * Own loader rather than kysely's FileMigrationProvider so that declaration and test files
 * are skipped and paths become file URLs, which Node's ESM loader requires.
 */
export async function loadMigrationFolder(folder: string): Promise<Record<string, Migration>> {
  const files = (await readdir(folder)).filter(
    (f) => MIGRATION_FILE.test(f) && !f.endsWith(".d.ts"),
  );
  const migrations: Record<string, Migration> = {};
  for (const file of files.sort()) {
    const mod = (await import(pathToFileURL(join(folder, file)).href)) as Partial<Migration> & {
      default?: Migration;
    };
    const migration = mod.default ?? mod;
    if (typeof migration.up !== "function") {
      throw new MigrationError(file, new Error("the module exports no up(db) function"));
    }
    migrations[file.replace(/\.(ts|js|mjs)$/, "")] = migration as Migration;
  }
  return migrations;
}

/**
 * Brings the database to the latest migration at service start and returns the names it ran
 * (empty when already up to date). Runs in one transaction under kysely's migration lock, so
 * replicas booting together apply each migration once; on failure nothing of this run stays
 * and a `MigrationError` naming the migration is thrown, which should fail the boot.
 */
export async function runMigrations(
  db: Kysely<unknown>,
  options: RunMigrationsOptions,
): Promise<string[]> {
  const all: Record<string, Migration> = { ...options.migrations };
  if (options.folder) {
    for (const [name, migration] of Object.entries(await loadMigrationFolder(options.folder))) {
      if (name in all) throw new MigrationError(name, new Error("the name is defined twice"));
      all[name] = migration;
    }
  }
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => all },
    // Platform migrations added in a later release sort before service migrations that
    // already ran; they are independent of them, so running them late is correct.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  const executed = (results ?? [])
    .filter((r) => r.status === "Success")
    .map((r) => r.migrationName);
  if (error) {
    const failed = (results ?? []).find((r: MigrationResult) => r.status === "Error");
    const err = new MigrationError(failed?.migrationName, error);
    options.logger?.error({ err, migration: failed?.migrationName }, "database migration failed");
    throw err;
  }
  if (executed.length > 0) options.logger?.info({ migrations: executed }, "database migrated");
  else options.logger?.debug("database schema is up to date");
  return executed;
}
