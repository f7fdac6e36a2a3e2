import { loadOrCreateDevKeyFile, publicPart } from "@shopmesh/platform/sealed-secrets";
import type { JWK } from "jose";

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
