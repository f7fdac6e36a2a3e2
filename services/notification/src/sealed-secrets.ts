import { createOpener, loadOrCreateDevKeyFile } from "@shopmesh/platform/sealed-secrets";
import type { JWK } from "jose";
import type { OpenedSecret } from "./domain/templates.ts";

/** Opens the verification codes and reset tokens the user service seals to this service. */
export interface SecretOpener {
  open(jwe: string): Promise<OpenedSecret>;
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
 * Creates the opener for a set of private JWKs (platform sealed secrets), keeping only the
 * `code` and `token` members a sealed one-time secret may carry.
 */
export async function createSecretOpener(jwks: readonly JWK[]): Promise<SecretOpener> {
  const opener = await createOpener(jwks);
  return {
    async open(jwe) {
      const secret = (await opener.open(jwe)) as OpenedSecret;
      return {
        ...(typeof secret.code === "string" ? { code: secret.code } : {}),
        ...(typeof secret.token === "string" ? { token: secret.token } : {}),
      };
    },
  };
}
