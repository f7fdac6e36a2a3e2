import { fileURLToPath } from "node:url";
import { createDb, ensureDatabase } from "@shopmesh/platform/db";
import type { Logger } from "@shopmesh/platform/logger";
import { runMigrations } from "@shopmesh/platform/migrations";
import { platformMigrations } from "@shopmesh/platform/platform-migrations";
import type { CatalogDb } from "./store.ts";

/**
 * Creates (if needed) and migrates the catalog database and returns a pool over it with the
 * connection it used. Shared by main.ts and the demo seed so both see the same schema.
 */
export async function openCatalogDb(
  name: string,
  options: { logger?: Logger; poolSize?: number; role?: string } = {},
) {
  const connection = await ensureDatabase(name, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.role ? { role: options.role } : {}),
  });
  const db = createDb<CatalogDb>({
    ...connection,
    poolSize: options.poolSize ?? 10,
    applicationName: "catalog",
  });
  await runMigrations(db as never, {
    migrations: platformMigrations,
    folder: fileURLToPath(new URL("./migrations", import.meta.url)),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return { db, connection };
}
