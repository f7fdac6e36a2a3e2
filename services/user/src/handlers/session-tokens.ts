import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { AuthTokensSchema } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import type { AccessTokens } from "../access-tokens.ts";
import type { Account } from "../domain/account.ts";
import { hashToken, newOpaqueToken } from "../domain/one-time-secrets.ts";
import { addRefreshToken, insertSession } from "../store/sessions.ts";
import type { Tx } from "../store/tables.ts";

type AuthTokens = MessageInitShape<typeof AuthTokensSchema>;

/** The token pair of a session: a fresh access token and the session's next refresh token. */
async function tokenPair(
  tokens: AccessTokens,
  user: Account,
  sessionId: string,
  refreshToken: string,
  expiresAt: Date,
): Promise<AuthTokens> {
  return {
    accessToken: await tokens.sign({
      userId: user.id,
      roles: user.roles,
      emailVerified: user.emailVerified,
      sessionId,
    }),
    tokenType: "Bearer",
    expiresIn: tokens.ttlSeconds,
    refreshToken,
    refreshExpiresAt: timestampFromDate(expiresAt),
  };
}

/** Starts a new session for `user` inside `tx` and returns its first token pair. */
export async function startSession(
  tx: Tx,
  tokens: AccessTokens,
  user: Account,
  refreshTtlMs: number,
): Promise<AuthTokens> {
  const sessionId = uuidv7();
  const refreshToken = newOpaqueToken();
  const expiresAt = new Date(Date.now() + refreshTtlMs);
  await insertSession(tx, {
    id: sessionId,
    userId: user.id,
    expiresAt,
    tokenHash: hashToken(refreshToken),
  });
  return tokenPair(tokens, user, sessionId, refreshToken, expiresAt);
}

/** Issues the next token pair of an existing session (rotation); the expiry is not extended. */
export async function continueSession(
  tx: Tx,
  tokens: AccessTokens,
  user: Account,
  session: { sessionId: string; sessionExpiresAt: Date },
): Promise<AuthTokens> {
  const refreshToken = newOpaqueToken();
  await addRefreshToken(tx, session.sessionId, hashToken(refreshToken));
  return tokenPair(tokens, user, session.sessionId, refreshToken, session.sessionExpiresAt);
}
