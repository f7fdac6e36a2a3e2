import { randomUUID } from "node:crypto";
import { link, mkdir, readFile, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  type CompactJWEHeaderParameters,
  calculateJwkThumbprint,
  compactDecrypt,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from "jose";
import type { OpenedSecret } from "./domain/templates.ts";

/** The JWE algorithms user_events.proto fixes for sealed one-time secrets. */
const SEAL_ALG = "RSA-OAEP-256";
const SEAL_ENC = "A256GCM";

/** Opens the verification codes and reset tokens the user service seals to this service. */
export interface SecretOpener {
  open(jwe: string): Promise<OpenedSecret>;
}

/**
 * Reads the local dev key pair, creating it when missing; the same race-free protocol as the
 * user service's copy (services/user/README.md, "Sealed one-time secrets"): write a private temp
 * file, hard-link it to the final name, and let an existing file win.
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

/**
 * The private keys from configuration: `NOTIFICATION_PRIVATE_JWK` (one JWK, a JSON array of
 * them, or a JWK Set, so old keys stay usable during a rotation) when set, else the dev key file.
 */
export async function loadPrivateKeys(config: {
  privateJwk: string;
  keyFile: string;
}): Promise<JWK[]> {
  if (!config.privateJwk) return [await loadOrCreateDevKeyFile(config.keyFile)];
  let parsed: unknown;
  try {
    parsed = JSON.parse(config.privateJwk);
  } catch {
    throw new Error("NOTIFICATION_PRIVATE_JWK must be JSON: a private JWK, an array or a JWK Set");
  }
  const keys = Array.isArray(parsed) ? parsed : ((parsed as { keys?: unknown[] }).keys ?? [parsed]);
  return keys as JWK[];
}

/**
 * Creates the opener for a set of private JWKs, choosing the key by the JWE's `kid` (or trying
 * each when the JWE names none). Only RSA-OAEP-256 with A256GCM is accepted.
 */
export async function createSecretOpener(jwks: readonly JWK[]): Promise<SecretOpener> {
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
          if (!match) throw new Error(`no notification key with kid ${header.kid ?? "(none)"}`);
          return match.key;
        },
        options,
      );
      const secret = JSON.parse(new TextDecoder().decode(plaintext)) as OpenedSecret;
      return {
        ...(typeof secret.code === "string" ? { code: secret.code } : {}),
        ...(typeof secret.token === "string" ? { token: secret.token } : {}),
      };
    },
  };
}
