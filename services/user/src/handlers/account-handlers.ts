import type { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { requireSelfOrAdmin, requireUser } from "@shopmesh/platform/auth";
import {
  NotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
} from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { profileChanges } from "../domain/account.ts";
import { hashPassword, verifyPassword } from "../domain/password-hash.ts";
import { publish, userProfileUpdated } from "../events.ts";
import { expireResetTokens } from "../store/one-time-secrets.ts";
import { revokeUserSessions } from "../store/sessions.ts";
import { findUserById, updateUser } from "../store/users.ts";
import type { UserDeps } from "./deps.ts";
import { userToProto } from "./mapping.ts";
import { startSession } from "./session-tokens.ts";

type Impl = ServiceImpl<typeof UserService>;

/** GetProfile, UpdateProfile and ChangePassword: a user's own account. */
export function createAccountHandlers(
  deps: UserDeps,
): Pick<Impl, "getProfile" | "updateProfile" | "changePassword"> {
  const { db, scrypt, tokens, refreshTtlMs } = deps;

  return {
    async getProfile(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const user = await findUserById(db, req.userId);
      if (!user) throw new NotFoundError(`user ${req.userId} not found`);
      return { user: userToProto(user) };
    },

    async updateProfile(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const input = { name: (req.user?.name ?? "").trim(), phone: req.user?.phone ?? "" };
      const user = await db.transaction().execute(async (tx) => {
        const current = await findUserById(tx, req.userId, true);
        if (!current) throw new NotFoundError(`user ${req.userId} not found`);
        const changes = profileChanges(current, input, req.updateMask?.paths ?? []);
        const changed = Object.keys(changes);
        if (changed.length === 0) return current;
        const updated = await updateUser(tx, current.id, changes);
        await publish(tx, userProfileUpdated(updated, changed));
        return updated;
      });
      return { user: userToProto(user) };
    },

    async changePassword(req, ctx) {
      const caller = requireUser(ctx);
      if (caller.subject !== req.userId) {
        throw new PermissionDeniedError("a password can only be changed by its own user");
      }
      const user = await findUserById(db, req.userId);
      if (!user) throw new NotFoundError(`user ${req.userId} not found`);
      const check = await verifyPassword(req.currentPassword, user.passwordHash, scrypt);
      if (!check.ok) throw new UnauthenticatedError("current_password is wrong");
      const passwordHash = await hashPassword(req.newPassword, scrypt);
      const session = await db.transaction().execute(async (tx) => {
        const updated = await updateUser(tx, user.id, { passwordHash });
        await revokeUserSessions(tx, user.id, "password changed");
        await expireResetTokens(tx, user.id);
        await publish(tx, userProfileUpdated(updated, ["password"]));
        return startSession(tx, tokens, updated, refreshTtlMs);
      });
      return { tokens: session };
    },
  };
}
