import { randomUUID } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  CompactEncrypt,
  type CompactJWEHeaderParameters,
  calculateJwkThumbprint,
  compactDecrypt,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from "jose";

/**
 * Sealed secrets: small JSON values encrypted (compact JWE, RSA-OAEP-256 + A256GCM) to one
 * recipient's public key, so a secret can travel through Kafka, where every consumer of a topic
 * reads every event, and only its recipient can open it.
 */

/** Key management algorithm of every sealed secret. */
export const SEAL_ALG = "RSA-OAEP-256";
/** Content encryption of every sealed secret. */
export const SEAL_ENC = "A256GCM";

/**
 * Reads a local dev key pair (a private RSA JWK file), creating it when missing. Creation is
 * race-free between processes that start together: the key is written to a private temp file
 * and hard-linked to its final name, which fails with EEXIST when another process got there
 * first; then the existing file wins.
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
  if (kty !== "RSA" || !n || !e) throw new Error("a sealing key must be an RSA JWK");
  return { kty, n, e, kid: kid ?? "", alg: SEAL_ALG, use: "enc" };
}

/** Seals small JSON values to one recipient's public key. */
export interface Sealer {
  /** Names the recipient's key in every JWE header. */
  readonly kid: string;
  /** Compact JWE of `JSON.stringify(payload)`. */
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

/** Opens sealed secrets with the recipient's private keys. */
export interface Opener {
  /** The parsed JSON payload; throws on a foreign key, a tampered JWE or another algorithm. */
  open(jwe: string): Promise<unknown>;
}

/**
 * Creates an opener for a set of private JWKs (several during a key rotation), choosing the key
 * by the JWE's `kid`, or the first when the JWE names none. Only {@link SEAL_ALG} with
 * {@link SEAL_ENC} is accepted.
 */
export async function createOpener(jwks: readonly JWK[]): Promise<Opener> {
  const keys = await Promise.all(
    jwks.map(async (jwk) => ({
      kid: jwk.kid || (await calculateJwkThumbprint(jwk)),
      key: await importJWK(jwk, SEAL_ALG),
    })),
  );
  const options = { keyManagementAlgorithms: [SEAL_ALG], contentEncryptionAlgorithms: [SEAL_ENC] };
  return {
    async open(jwe) {
      const { plaintext } = await compactDecrypt(
        jwe,
        (header: CompactJWEHeaderParameters) => {
          const match =
            keys.find((k) => k.kid === header.kid) ?? (header.kid ? undefined : keys[0]);
          if (!match) throw new Error(`no sealing key with kid ${header.kid ?? "(none)"}`);
          return match.key;
        },
        options,
      );
      return JSON.parse(new TextDecoder().decode(plaintext));
    },
  };
}
