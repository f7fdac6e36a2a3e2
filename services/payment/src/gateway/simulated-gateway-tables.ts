import type { Generated, Kysely, Selectable } from "kysely";
import { sql } from "kysely";

/**
 * A card the simulated gateway tokenized: what a merchant may see, plus how charges on it
 * behave. Never the card number or CVC.
 */
export interface GatewayCardsTable {
  token: string;
  /** CardBrand enum name, e.g. "VISA". */
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  /** JSON of a CardBehaviour. */
  behaviour: string;
  created_at: Generated<Date>;
}

/** A charge or refund the gateway decided, keyed by the caller's idempotency key. */
export interface GatewayOperationsTable {
  idempotency_key: string;
  kind: "charge" | "refund";
  /** Gateway id of the operation ("ch_..." or "re_..."). */
  reference: string;
  /** The token charged (charges only). */
  token: string | null;
  /** The charge refunded (refunds only). */
  charge_reference: string | null;
  currency_code: string;
  /** bigint; pg returns it as a string. */
  amount_minor: string;
  status: string;
  /** DeclineCode number when declined. */
  decline_code: number | null;
  message: string;
  created_at: Generated<Date>;
}

/** The simulated gateway's own tables (its "remote" state), kept apart from the payments. */
export interface GatewayTables {
  gateway_cards: GatewayCardsTable;
  gateway_operations: GatewayOperationsTable;
}

/** A row of gateway_operations as read back. */
export type GatewayOperationRow = Selectable<GatewayOperationsTable>;

/** Creates the simulated gateway's tables; run as a migration of the payments database. */
export async function createGatewayTables(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE gateway_cards (
      token text PRIMARY KEY,
      brand text NOT NULL,
      last4 char(4) NOT NULL,
      exp_month int NOT NULL,
      exp_year int NOT NULL,
      behaviour text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE gateway_operations (
      idempotency_key text PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('charge', 'refund')),
      reference text NOT NULL UNIQUE,
      token text,
      charge_reference text,
      currency_code char(3) NOT NULL,
      amount_minor bigint NOT NULL,
      status text NOT NULL,
      decline_code int,
      message text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX gateway_operations_charge_idx ON gateway_operations (charge_reference)
            WHERE charge_reference IS NOT NULL`.execute(db);
}
