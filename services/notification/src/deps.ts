import type { Logger } from "@shopmesh/platform/logger";
import type { Kysely } from "kysely";
import type { LinkBase } from "./domain/templates.ts";
import type { Mailer } from "./mailer.ts";
import type { SecretOpener } from "./sealed-secrets.ts";
import type { NotificationDatabase } from "./store.ts";

/** What the notification use cases need, built once in app.ts. */
export interface NotificationDeps {
  db: Kysely<NotificationDatabase>;
  mailer: Mailer;
  secrets: SecretOpener;
  links: LinkBase;
  logger: Logger;
  /** Consumer group and inbox name. */
  consumerName: string;
}
