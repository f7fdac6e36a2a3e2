import type { Logger } from "@shopmesh/platform/logger";
import type { Kysely } from "kysely";
import type { ShipmentStore, ShippingDatabase } from "./store.ts";

/** What the shipping use cases need, built once in app.ts. */
export interface ShippingDeps {
  db: Kysely<ShippingDatabase>;
  store: ShipmentStore;
  logger: Logger;
  /** ISO country the shop ships from; decides the destination zone. */
  originCountry: string;
  /** Currency the carriers bill the shop in. */
  costCurrency: string;
  /** Pace of the simulated carrier: time between two status moves; 0 = it never moves parcels. */
  advanceIntervalMs: number;
}
