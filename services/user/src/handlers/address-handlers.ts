import type { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { requireSelfOrAdmin } from "@shopmesh/platform/auth";
import { FailedPreconditionError, NotFoundError } from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { MAX_ADDRESSES } from "../domain/limits.ts";
import {
  clearDefaultAddress,
  countAddresses,
  deleteAddress,
  findAddress,
  insertAddress,
  listAddresses,
  markDefaultAddress,
  promoteNewestAddress,
  updateAddress,
} from "../store/addresses.ts";
import type { Tx } from "../store/tables.ts";
import { findUserById } from "../store/users.ts";
import type { UserDeps } from "./deps.ts";
import { addressToProto, postalFromProto } from "./mapping.ts";

type Impl = ServiceImpl<typeof UserService>;

/**
 * Locks the owner's row so that concurrent address changes of one user run one after another;
 * the partial unique index would reject a second default anyway, this keeps it from happening.
 */
async function lockOwner(tx: Tx, userId: string): Promise<void> {
  if (!(await findUserById(tx, userId, true))) throw new NotFoundError(`user ${userId} not found`);
}

function notFound(addressId: string): NotFoundError {
  return new NotFoundError(`address ${addressId} not found`);
}

/** Address book RPCs: exactly one default whenever the user has any address. */
export function createAddressHandlers(
  deps: UserDeps,
): Pick<
  Impl,
  | "listAddresses"
  | "getAddress"
  | "addAddress"
  | "updateAddress"
  | "deleteAddress"
  | "setDefaultAddress"
> {
  const { db } = deps;

  return {
    async listAddresses(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      return { addresses: (await listAddresses(db, req.userId)).map(addressToProto) };
    },

    async getAddress(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const address = await findAddress(db, req.userId, req.addressId);
      if (!address) throw notFound(req.addressId);
      return { address: addressToProto(address) };
    },

    async addAddress(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const postal = req.address?.postalAddress;
      if (!postal) throw new NotFoundError("unreachable: postal_address is validated");
      const saved = await db.transaction().execute(async (tx) => {
        await lockOwner(tx, req.userId);
        const count = await countAddresses(tx, req.userId);
        if (count >= MAX_ADDRESSES) {
          throw new FailedPreconditionError(
            `user ${req.userId} already has ${MAX_ADDRESSES} addresses`,
          );
        }
        const isDefault = count === 0 || req.makeDefault;
        if (isDefault) await clearDefaultAddress(tx, req.userId);
        return insertAddress(tx, {
          id: uuidv7(),
          userId: req.userId,
          label: req.address?.label.trim() ?? "",
          isDefault,
          ...postalFromProto(postal),
        });
      });
      return { address: addressToProto(saved) };
    },

    async updateAddress(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const paths = req.updateMask?.paths ?? [];
      const input = req.address;
      const writes = (field: "label" | "postal_address") =>
        paths.length > 0
          ? paths.includes(field)
          : field === "label"
            ? (input?.label ?? "") !== ""
            : input?.postalAddress !== undefined;
      const postal = writes("postal_address") ? input?.postalAddress : undefined;
      const updated = await updateAddress(db, req.userId, req.addressId, {
        ...(writes("label") ? { label: input?.label.trim() ?? "" } : {}),
        ...(postal ? { postal: postalFromProto(postal) } : {}),
      });
      if (!updated) throw notFound(req.addressId);
      return { address: addressToProto(updated) };
    },

    async deleteAddress(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      await db.transaction().execute(async (tx) => {
        await lockOwner(tx, req.userId);
        const deleted = await deleteAddress(tx, req.userId, req.addressId);
        if (!deleted) throw notFound(req.addressId);
        if (deleted.isDefault) await promoteNewestAddress(tx, req.userId);
      });
      return {};
    },

    async setDefaultAddress(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const addresses = await db.transaction().execute(async (tx) => {
        await lockOwner(tx, req.userId);
        if (!(await findAddress(tx, req.userId, req.addressId))) throw notFound(req.addressId);
        await clearDefaultAddress(tx, req.userId);
        await markDefaultAddress(tx, req.userId, req.addressId);
        return listAddresses(tx, req.userId);
      });
      return { addresses: addresses.map(addressToProto) };
    },
  };
}
