import type { Logger } from "@shopmesh/platform/logger";
import type { Kysely } from "kysely";
import type { CardGateway } from "./gateway/gateway.ts";
import type { PaymentDatabase } from "./store.ts";

/** What the payment use cases need, built once in app.ts. */
export interface PaymentDeps {
  db: Kysely<PaymentDatabase>;
  gateway: CardGateway;
  logger: Logger;
}
