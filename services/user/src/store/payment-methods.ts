import type { Db } from "./tables.ts";

/** A saved card: the gateway token and what may be shown about it. */
export interface PaymentMethodRecord {
  id: string;
  userId: string;
  gatewayToken: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  isDefault: boolean;
  createdAt: Date;
}

function toRecord(row: {
  id: string;
  user_id: string;
  gateway_token: string;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  is_default: boolean;
  created_at: Date;
}): PaymentMethodRecord {
  return {
    id: row.id,
    userId: row.user_id,
    gatewayToken: row.gateway_token,
    brand: row.brand,
    last4: row.last4,
    expMonth: row.exp_month,
    expYear: row.exp_year,
    isDefault: row.is_default,
    createdAt: row.created_at,
  };
}

/** A user's cards, the default first, then newest first. */
export async function listPaymentMethods(db: Db, userId: string): Promise<PaymentMethodRecord[]> {
  const rows = await db
    .selectFrom("payment_methods")
    .selectAll()
    .where("user_id", "=", userId)
    .orderBy("is_default", "desc")
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
  return rows.map(toRecord);
}

/** One of a user's cards; undefined when missing or someone else's. */
export async function findPaymentMethod(
  db: Db,
  userId: string,
  id: string,
): Promise<PaymentMethodRecord | undefined> {
  const row = await db
    .selectFrom("payment_methods")
    .selectAll()
    .where("user_id", "=", userId)
    .where("id", "=", id)
    .executeTakeFirst();
  return row && toRecord(row);
}

/** Saves a card; rejects with a unique violation when the user already saved this token. */
export async function insertPaymentMethod(
  db: Db,
  card: Omit<PaymentMethodRecord, "createdAt">,
): Promise<PaymentMethodRecord> {
  const row = await db
    .insertInto("payment_methods")
    .values({
      id: card.id,
      user_id: card.userId,
      gateway_token: card.gatewayToken,
      brand: card.brand,
      last4: card.last4,
      exp_month: card.expMonth,
      exp_year: card.expYear,
      is_default: card.isDefault,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

/** Clears the default flag on every card of a user. */
export async function clearDefaultPaymentMethod(db: Db, userId: string): Promise<void> {
  await db
    .updateTable("payment_methods")
    .set({ is_default: false })
    .where("user_id", "=", userId)
    .where("is_default", "=", true)
    .execute();
}

/** Makes one card the default; false when it is not the user's. */
export async function markDefaultPaymentMethod(
  db: Db,
  userId: string,
  id: string,
): Promise<boolean> {
  const result = await db
    .updateTable("payment_methods")
    .set({ is_default: true })
    .where("user_id", "=", userId)
    .where("id", "=", id)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Forgets a card; returns it as it was, or undefined when it is not the user's. */
export async function deletePaymentMethod(
  db: Db,
  userId: string,
  id: string,
): Promise<PaymentMethodRecord | undefined> {
  const row = await db
    .deleteFrom("payment_methods")
    .where("user_id", "=", userId)
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
  return row && toRecord(row);
}

/** Makes the most recently added card of a user the default, if it has any. */
export async function promoteNewestPaymentMethod(db: Db, userId: string): Promise<void> {
  await db
    .updateTable("payment_methods")
    .set({ is_default: true })
    .where(
      "id",
      "=",
      db
        .selectFrom("payment_methods")
        .select("id")
        .where("user_id", "=", userId)
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(1),
    )
    .execute();
}

/** How many cards a user has saved. */
export async function countPaymentMethods(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom("payment_methods")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("user_id", "=", userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
