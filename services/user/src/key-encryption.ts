import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** How a stored private key is protected. */
export type KeyProtection = "none" | "aes-256-gcm";

/**
 * Encrypts and decrypts the JWT signing key at rest with a 256-bit key from the environment
 * (AES-256-GCM, random 96-bit IV). Without a configured key, the private key is stored as is:
 * acceptable on a developer machine, announced by a warning at boot, never logged.
 */
export interface KeyEncryption {
  readonly protection: KeyProtection;
  seal(plaintext: string): string;
  open(stored: string, protection: KeyProtection): string;
}

/** Parses `USER_KEY_ENCRYPTION_KEY` (base64 of 32 bytes, or empty for none). */
export function createKeyEncryption(base64Key: string): KeyEncryption {
  const key = base64Key ? Buffer.from(base64Key, "base64") : undefined;
  if (key && key.length !== 32) {
    throw new Error("USER_KEY_ENCRYPTION_KEY must be the base64 of exactly 32 bytes");
  }
  return {
    protection: key ? "aes-256-gcm" : "none",
    seal(plaintext) {
      if (!key) return plaintext;
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return [iv, cipher.getAuthTag(), body].map((b) => b.toString("base64")).join(".");
    },
    open(stored, protection) {
      if (protection === "none") return stored;
      if (!key) {
        throw new Error("a signing key is encrypted but USER_KEY_ENCRYPTION_KEY is not set");
      }
      const [iv, tag, body] = stored.split(".").map((p) => Buffer.from(p, "base64"));
      if (!iv || !tag || !body) throw new Error("stored signing key is malformed");
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
    },
  };
}
