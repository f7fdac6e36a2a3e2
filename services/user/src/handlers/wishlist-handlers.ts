import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { requireSelfOrAdmin } from "@shopmesh/platform/auth";
import { FailedPreconditionError, NotFoundError } from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { MAX_WISHLIST_ITEMS } from "../domain/limits.ts";
import type { Db } from "../store/tables.ts";
import { findUserById } from "../store/users.ts";
import {
  countWishlist,
  hasWishlistItem,
  listWishlist,
  removeWishlistItem,
  upsertWishlistItem,
} from "../store/wishlist.ts";
import type { UserDeps } from "./deps.ts";

type Impl = ServiceImpl<typeof UserService>;

async function items(db: Db, userId: string) {
  return (await listWishlist(db, userId)).map((i) => ({
    productId: i.productId,
    variantId: i.variantId ?? "",
    addedAt: timestampFromDate(i.addedAt),
  }));
}

/** Wishlist RPCs; adding and removing are idempotent. */
export function createWishlistHandlers(
  deps: UserDeps,
): Pick<Impl, "getWishlist" | "addWishlistItem" | "removeWishlistItem"> {
  const { db } = deps;

  return {
    async getWishlist(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      return { items: await items(db, req.userId) };
    },

    async addWishlistItem(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      return db.transaction().execute(async (tx) => {
        if (!(await findUserById(tx, req.userId, true))) {
          throw new NotFoundError(`user ${req.userId} not found`);
        }
        const present = await hasWishlistItem(tx, req.userId, req.productId);
        if (!present && (await countWishlist(tx, req.userId)) >= MAX_WISHLIST_ITEMS) {
          throw new FailedPreconditionError(`wishlist already holds ${MAX_WISHLIST_ITEMS} items`);
        }
        await upsertWishlistItem(tx, req.userId, req.productId, req.variantId || null);
        return { items: await items(tx, req.userId) };
      });
    },

    async removeWishlistItem(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      await removeWishlistItem(db, req.userId, req.productId);
      return { items: await items(db, req.userId) };
    },
  };
}
