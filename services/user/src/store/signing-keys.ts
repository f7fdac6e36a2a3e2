import { sql } from "kysely";
import type { Db, SigningKeysTable } from "./tables.ts";

/** A signing key as stored. */
export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, string>;
  privateKey: string;
  protection: SigningKeysTable["private_key_encryption"];
  createdAt: Date;
  retiredAt: Date | null;
}

/** The current signing key, if one was ever created. */
export async function findCurrentSigningKey(db: Db): Promise<StoredSigningKey | undefined> {
  const row = await db
    .selectFrom("signing_keys")
    .selectAll()
    .where("retired_at", "is", null)
    .executeTakeFirst();
  return row && toKey(row);
}

/**
 * Stores a new current key unless another replica stored one first (the partial unique index
 * allows one); either way, returns the key that is current afterwards.
 */
export async function insertCurrentSigningKey(
  db: Db,
  key: Omit<StoredSigningKey, "createdAt" | "retiredAt">,
): Promise<StoredSigningKey> {
  await db
    .insertInto("signing_keys")
    .values({
      kid: key.kid,
      alg: key.alg,
      public_jwk: JSON.stringify(key.publicJwk),
      private_key: key.privateKey,
      private_key_encryption: key.protection,
      retired_at: null,
    })
    .onConflict((oc) => oc.expression(sql`(true)`).where("retired_at", "is", null).doNothing())
    .execute();
  const current = await findCurrentSigningKey(db);
  if (!current) throw new Error("no current signing key after insert");
  return current;
}

/** Retires the current key (a rotation); the next boot or rotation creates a new one. */
export async function retireCurrentSigningKey(db: Db): Promise<void> {
  await db
    .updateTable("signing_keys")
    .set({ retired_at: sql<Date>`now()` })
    .where("retired_at", "is", null)
    .execute();
}

/** Public keys that still verify tokens: the current one first, then those retired recently. */
export async function listVerificationKeys(
  db: Db,
  retiredWithinMs: number,
): Promise<StoredSigningKey[]> {
  const rows = await db
    .selectFrom("signing_keys")
    .selectAll()
    .where((eb) =>
      eb.or([
        eb("retired_at", "is", null),
        eb("retired_at", ">", sql<Date>`now() - make_interval(secs => ${retiredWithinMs / 1000})`),
      ]),
    )
    .orderBy(sql`retired_at IS NULL`, "desc")
    .orderBy("created_at", "desc")
    .execute();
  return rows.map(toKey);
}

function toKey(row: {
  kid: string;
  alg: string;
  public_jwk: Record<string, string>;
  private_key: string;
  private_key_encryption: SigningKeysTable["private_key_encryption"];
  created_at: Date;
  retired_at: Date | null;
}): StoredSigningKey {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.public_jwk,
    privateKey: row.private_key,
    protection: row.private_key_encryption,
    createdAt: row.created_at,
    retiredAt: row.retired_at,
  };
}
