import type { Db } from "./tables.ts";

/** One wishlist entry. */
export interface WishlistRecord {
  productId: string;
  variantId: string | null;
  addedAt: Date;
}

/** A user's wishlist, newest first. */
export async function listWishlist(db: Db, userId: string): Promise<WishlistRecord[]> {
  const rows = await db
    .selectFrom("wishlist_items")
    .select(["product_id", "variant_id", "added_at"])
    .where("user_id", "=", userId)
    .orderBy("added_at", "desc")
    .orderBy("product_id", "desc")
    .execute();
  return rows.map((r) => ({
    productId: r.product_id,
    variantId: r.variant_id,
    addedAt: r.added_at,
  }));
}

/** How many items a wishlist holds. */
export async function countWishlist(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom("wishlist_items")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("user_id", "=", userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** True when the product is already on the wishlist. */
export async function hasWishlistItem(db: Db, userId: string, productId: string): Promise<boolean> {
  const row = await db
    .selectFrom("wishlist_items")
    .select("product_id")
    .where("user_id", "=", userId)
    .where("product_id", "=", productId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Adds a product, or updates its variant keeping the original added_at. */
export async function upsertWishlistItem(
  db: Db,
  userId: string,
  productId: string,
  variantId: string | null,
): Promise<void> {
  await db
    .insertInto("wishlist_items")
    .values({ user_id: userId, product_id: productId, variant_id: variantId })
    .onConflict((oc) =>
      oc.columns(["user_id", "product_id"]).doUpdateSet({ variant_id: variantId }),
    )
    .execute();
}

/** Removes a product (idempotent). */
export async function removeWishlistItem(db: Db, userId: string, productId: string): Promise<void> {
  await db
    .deleteFrom("wishlist_items")
    .where("user_id", "=", userId)
    .where("product_id", "=", productId)
    .execute();
}
