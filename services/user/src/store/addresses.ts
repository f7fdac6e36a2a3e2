import { sql } from "kysely";
import type { AddressesTable, Db } from "./tables.ts";

/** The postal part of an address, as columns. */
export interface PostalFields {
  fullName: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  countryCode: string;
  phone: string;
}

/** A saved address. */
export interface AddressRecord extends PostalFields {
  id: string;
  userId: string;
  label: string;
  isDefault: boolean;
  createdAt: Date;
  updatedAt: Date;
}

function toRecord(
  row: {
    [K in keyof AddressesTable]: AddressesTable[K] extends { __select__: infer S }
      ? S
      : AddressesTable[K];
  },
): AddressRecord {
  return {
    id: row.id,
    userId: row.user_id,
    label: row.label,
    fullName: row.full_name,
    line1: row.line1,
    line2: row.line2,
    city: row.city,
    region: row.region,
    postalCode: row.postal_code,
    countryCode: row.country_code,
    phone: row.phone,
    isDefault: row.is_default,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function postalColumns(p: PostalFields) {
  return {
    full_name: p.fullName,
    line1: p.line1,
    line2: p.line2,
    city: p.city,
    region: p.region,
    postal_code: p.postalCode,
    country_code: p.countryCode,
    phone: p.phone,
  };
}

/** A user's addresses, the default first, then newest first. */
export async function listAddresses(db: Db, userId: string): Promise<AddressRecord[]> {
  const rows = await db
    .selectFrom("addresses")
    .selectAll()
    .where("user_id", "=", userId)
    .orderBy("is_default", "desc")
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
  return rows.map(toRecord);
}

/** One of a user's addresses; undefined when missing or someone else's. */
export async function findAddress(
  db: Db,
  userId: string,
  addressId: string,
): Promise<AddressRecord | undefined> {
  const row = await db
    .selectFrom("addresses")
    .selectAll()
    .where("user_id", "=", userId)
    .where("id", "=", addressId)
    .executeTakeFirst();
  return row && toRecord(row);
}

/** How many addresses a user has. */
export async function countAddresses(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom("addresses")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("user_id", "=", userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Clears the default flag of every address of a user (before another becomes the default). */
export async function clearDefaultAddress(db: Db, userId: string): Promise<void> {
  await db
    .updateTable("addresses")
    .set({ is_default: false })
    .where("user_id", "=", userId)
    .where("is_default", "=", true)
    .execute();
}

/** Saves an address. */
export async function insertAddress(
  db: Db,
  address: { id: string; userId: string; label: string; isDefault: boolean } & PostalFields,
): Promise<AddressRecord> {
  const row = await db
    .insertInto("addresses")
    .values({
      id: address.id,
      user_id: address.userId,
      label: address.label,
      is_default: address.isDefault,
      ...postalColumns(address),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

/** Changes label and/or postal fields of one of a user's addresses. */
export async function updateAddress(
  db: Db,
  userId: string,
  addressId: string,
  changes: { label?: string; postal?: PostalFields },
): Promise<AddressRecord | undefined> {
  const row = await db
    .updateTable("addresses")
    .set({
      ...(changes.label !== undefined ? { label: changes.label } : {}),
      ...(changes.postal ? postalColumns(changes.postal) : {}),
      updated_at: sql<Date>`now()`,
    })
    .where("user_id", "=", userId)
    .where("id", "=", addressId)
    .returningAll()
    .executeTakeFirst();
  return row && toRecord(row);
}

/** Makes one address the default; false when it is not the user's. */
export async function markDefaultAddress(
  db: Db,
  userId: string,
  addressId: string,
): Promise<boolean> {
  const result = await db
    .updateTable("addresses")
    .set({ is_default: true, updated_at: sql<Date>`now()` })
    .where("user_id", "=", userId)
    .where("id", "=", addressId)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Deletes an address; returns it as it was, or undefined when it is not the user's. */
export async function deleteAddress(
  db: Db,
  userId: string,
  addressId: string,
): Promise<AddressRecord | undefined> {
  const row = await db
    .deleteFrom("addresses")
    .where("user_id", "=", userId)
    .where("id", "=", addressId)
    .returningAll()
    .executeTakeFirst();
  return row && toRecord(row);
}

/** Makes the most recently added address of a user the default, if it has any. */
export async function promoteNewestAddress(db: Db, userId: string): Promise<void> {
  await db
    .updateTable("addresses")
    .set({ is_default: true })
    .where(
      "id",
      "=",
      db
        .selectFrom("addresses")
        .select("id")
        .where("user_id", "=", userId)
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(1),
    )
    .execute();
}
