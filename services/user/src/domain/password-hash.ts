import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt cost parameters; r and p stay at the usual 8 and 1, N is the knob. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** What a fresh hash uses unless configured otherwise: N=2^15 (32 MiB per hash), r=8, p=1. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 32_768, r: 8, p: 1 };

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const PREFIX = "scrypt";

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // Node refuses to allocate more than maxmem (32 MiB by default); scrypt needs 128*N*r bytes.
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFKC"), salt, KEY_LENGTH, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/**
 * Hashes a password with scrypt (memory-hard) and a random salt. The result records its own
 * parameters (`scrypt$N$r$p$salt$hash`), so raising the cost later still verifies old hashes.
 */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, params);
  return [
    PREFIX,
    params.N,
    params.r,
    params.p,
    salt.toString("base64"),
    key.toString("base64"),
  ].join("$");
}

/** Outcome of {@link verifyPassword}. */
export interface PasswordCheck {
  ok: boolean;
  /** The hash is valid but weaker than `current`: store a fresh one now that the password is known. */
  needsRehash: boolean;
}

/** Checks `password` against a stored hash in constant time. A malformed hash never matches. */
export async function verifyPassword(
  password: string,
  stored: string,
  current: ScryptParams = DEFAULT_SCRYPT,
): Promise<PasswordCheck> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== PREFIX) return { ok: false, needsRehash: false };
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const salt = Buffer.from(parts[4] ?? "", "base64");
  const expected = Buffer.from(parts[5] ?? "", "base64");
  if (![N, r, p].every(Number.isSafeInteger) || expected.length !== KEY_LENGTH) {
    return { ok: false, needsRehash: false };
  }
  const actual = await derive(password, salt, { N, r, p });
  const ok = timingSafeEqual(actual, expected);
  return { ok, needsRehash: ok && (N < current.N || r < current.r || p < current.p) };
}
