import { randomUUID } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  CompactEncrypt,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from "jose";

/** The JWE algorithms user_events.proto fixes for sealed one-time secrets. */
export const SEAL_ALG = "RSA-OAEP-256";
/** Content encryption of sealed secrets. */
export const SEAL_ENC = "A256GCM";

/**
 * Reads the local dev key pair of the notification service, creating it when missing (see
 * services/user/README.md). Creation is race-free between the user and notification services:
 * the key is written to a private temp file and hard-linked to its final name, which fails with
 * EEXIST if the other process got there first; then the existing file wins.
 */
export async function loadOrCreateDevKeyFile(path: string): Promise<JWK> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as JWK;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair(SEAL_ALG, {
    modulusLength: 2048,
    extractable: true,
  });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const temp = `${path}.${randomUUID()}.tmp`;
  await writeFile(temp, JSON.stringify({ ...jwk, kid, alg: SEAL_ALG, use: "enc" }), {
    mode: 0o600,
    flag: "wx",
  });
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    await unlink(temp);
  }
  return JSON.parse(await readFile(path, "utf8")) as JWK;
}

/** Only the public members of an RSA JWK, so a private key never travels further than needed. */
export function publicPart(jwk: JWK): JWK {
  const { kty, n, e, kid } = jwk;
  if (kty !== "RSA" || !n || !e) throw new Error("the notification key must be an RSA JWK");
  return { kty, n, e, kid: kid ?? "", alg: SEAL_ALG, use: "enc" };
}

/** Seals small JSON secrets to the notification service's public key. */
export interface Sealer {
  readonly kid: string;
  /** Compact JWE (RSA-OAEP-256 + A256GCM) of `JSON.stringify(payload)`. */
  seal(payload: Record<string, string>): Promise<string>;
}

/** Builds a {@link Sealer} for a public JWK; its `kid` (or thumbprint) names it in the JWE. */
export async function createSealer(publicJwk: JWK): Promise<Sealer> {
  const jwk = publicPart(publicJwk);
  const kid = jwk.kid || (await calculateJwkThumbprint(jwk));
  const key = await importJWK(jwk, SEAL_ALG);
  return {
    kid,
    seal: (payload) =>
      new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: SEAL_ALG, enc: SEAL_ENC, kid })
        .encrypt(key),
  };
}

/**
 * The notification public key from configuration: `NOTIFICATION_PUBLIC_JWK` when set, else the
 * local dev key file (created when missing).
 */
export async function notificationPublicKey(config: {
  notificationPublicJwk: string;
  notificationKeyFile: string;
}): Promise<JWK> {
  if (config.notificationPublicJwk) {
    try {
      return publicPart(JSON.parse(config.notificationPublicJwk) as JWK);
    } catch (err) {
      throw new Error(`NOTIFICATION_PUBLIC_JWK is not a usable RSA JWK: ${(err as Error).message}`);
    }
  }
  return publicPart(await loadOrCreateDevKeyFile(config.notificationKeyFile));
}
