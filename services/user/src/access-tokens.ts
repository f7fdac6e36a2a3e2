import { randomUUID } from "node:crypto";
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER } from "@shopmesh/platform/auth";
import type { Logger } from "@shopmesh/platform/logger";
import {
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importPKCS8,
  type JSONWebKeySet,
  SignJWT,
} from "jose";
import type { RoleName } from "./domain/account.ts";
import type { KeyEncryption } from "./key-encryption.ts";
import {
  findCurrentSigningKey,
  insertCurrentSigningKey,
  listVerificationKeys,
  type StoredSigningKey,
} from "./store/signing-keys.ts";
import type { Db } from "./store/tables.ts";

const ALG = "EdDSA";
/** Retired keys stay published this long, far beyond any access token's lifetime. */
const RETIRED_KEYS_PUBLISHED_MS = 24 * 3600_000;
/** How long a replica serves its cached JWKS before rereading the table. */
const JWKS_CACHE_MS = 30_000;

/** What an access token says about its holder. */
export interface AccessTokenSubject {
  userId: string;
  roles: readonly RoleName[];
  emailVerified: boolean;
  sessionId: string;
}

/** Signs access tokens with the current key and publishes the keys that verify them. */
export interface AccessTokens {
  readonly ttlSeconds: number;
  readonly kid: string;
  sign(subject: AccessTokenSubject): Promise<string>;
  /** The JWK Set: current key first, then recently retired ones. */
  jwks(): Promise<JSONWebKeySet>;
}

/**
 * Loads the current Ed25519 signing key from the database, creating it on first start. Replicas
 * racing on a fresh database converge on one key (see `insertCurrentSigningKey`). The private
 * key is held as a non-extractable CryptoKey and never logged.
 */
export async function createAccessTokens(deps: {
  db: Db;
  keyEncryption: KeyEncryption;
  ttlSeconds: number;
  logger: Logger;
}): Promise<AccessTokens> {
  const { db, keyEncryption, ttlSeconds, logger } = deps;
  if (keyEncryption.protection === "none") {
    logger.warn(
      "USER_KEY_ENCRYPTION_KEY is not set: the JWT signing key is stored unencrypted in the database",
    );
  }
  const stored = (await findCurrentSigningKey(db)) ?? (await createSigningKey(db, keyEncryption));
  const privateKey = await importPKCS8(
    keyEncryption.open(stored.privateKey, stored.protection),
    stored.alg,
  );
  logger.info({ kid: stored.kid }, "JWT signing key loaded");

  let cached: { at: number; jwks: JSONWebKeySet } | undefined;
  return {
    ttlSeconds,
    kid: stored.kid,
    sign(subject) {
      return new SignJWT({
        roles: [...subject.roles],
        email_verified: subject.emailVerified,
        sid: subject.sessionId,
      })
        .setProtectedHeader({ alg: stored.alg, kid: stored.kid, typ: "JWT" })
        .setIssuer(ACCESS_TOKEN_ISSUER)
        .setAudience(ACCESS_TOKEN_AUDIENCE)
        .setSubject(subject.userId)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(privateKey);
    },
    async jwks() {
      if (!cached || Date.now() - cached.at > JWKS_CACHE_MS) {
        const keys = await listVerificationKeys(db, RETIRED_KEYS_PUBLISHED_MS);
        cached = { at: Date.now(), jwks: { keys: keys.map((k) => ({ ...k.publicJwk })) } };
      }
      return cached.jwks;
    },
  };
}

async function createSigningKey(db: Db, keyEncryption: KeyEncryption): Promise<StoredSigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(ALG, {
    crv: "Ed25519",
    extractable: true,
  });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return insertCurrentSigningKey(db, {
    kid,
    alg: ALG,
    publicJwk: { ...(publicJwk as Record<string, string>), kid, alg: ALG, use: "sig" },
    privateKey: keyEncryption.seal(await exportPKCS8(privateKey)),
    protection: keyEncryption.protection,
  });
}
