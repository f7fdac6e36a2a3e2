import type { CardSummary } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import type { Logger } from "@shopmesh/platform/logger";
import type { Sealer } from "@shopmesh/platform/sealed-secrets";
import type { AccessTokens } from "../access-tokens.ts";
import type { ThrottleLimits } from "../domain/login-throttle.ts";
import type { ScryptParams } from "../domain/password-hash.ts";
import type { Db } from "../store/tables.ts";

/** Looks up what the payment gateway knows about a card token; undefined for an unknown token. */
export interface CardDirectory {
  describe(token: string, signal?: AbortSignal): Promise<CardSummary | undefined>;
}

/** Everything the user service's handlers need, built once in main.ts. */
export interface UserDeps {
  db: Db;
  tokens: AccessTokens;
  sealer: Sealer;
  cards: CardDirectory;
  logger: Logger;
  scrypt: ScryptParams;
  throttle: ThrottleLimits;
  refreshTtlMs: number;
}
