import { createPool } from "@shopmesh/platform/db";
import { Kysely, PostgresDialect } from "kysely";
import type { PaymentDatabase } from "../../src/store.ts";

/** A Kysely instance whose every statement is logged, and the log. */
export interface LoggedDb {
  db: Kysely<PaymentDatabase>;
  /** SQL of each statement sent, in order: BEGIN and COMMIT included, one entry a round trip. */
  statements: string[];
  destroy(): Promise<void>;
}

/**
 * Opens a second pool on a payments database that records each statement its connections
 * send, so a test can count an operation's round trips. Logged at the connection, below
 * Kysely's query builder, because BEGIN and COMMIT never pass through it.
 */
export function createLoggedDb(database: string): LoggedDb {
  const statements: string[] = [];
  const db = new Kysely<PaymentDatabase>({
    dialect: new PostgresDialect({
      pool: createPool({ database, poolSize: 4, applicationName: "payment-statement-log" }),
      onCreateConnection: async (connection) => {
        const execute = connection.executeQuery.bind(connection);
        connection.executeQuery = (query) => {
          statements.push(query.sql);
          return execute(query);
        };
      },
    }),
  });
  return { db, statements, destroy: () => db.destroy() };
}
