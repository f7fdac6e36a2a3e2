import type { Kysely } from "kysely";
import { createGatewayTables } from "../gateway/simulated-gateway-tables.ts";

/** The simulated gateway's tables: tokenized cards and its idempotent operation log. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await createGatewayTables(db);
}
