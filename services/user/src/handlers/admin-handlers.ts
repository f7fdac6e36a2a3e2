import type { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { requireAdmin } from "@shopmesh/platform/auth";
import { InvalidArgumentError, NotFoundError } from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import {
  assertRoleChangeAllowed,
  assertStatusChangeAllowed,
  canonicalRoles,
  type RoleName,
} from "../domain/account.ts";
import { publish, userProfileUpdated } from "../events.ts";
import { clearAttempts } from "../store/auth-attempts.ts";
import { revokeUserSessions } from "../store/sessions.ts";
import { findUserById, listUsers, recordStatusChange, updateUser } from "../store/users.ts";
import type { UserDeps } from "./deps.ts";
import { roleFromProto, statusFromProto, userToProto } from "./mapping.ts";

type Impl = ServiceImpl<typeof UserService>;

const DEFAULT_PAGE_SIZE = 20;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Page tokens are the last id of the previous page, base64url-encoded so clients treat them as opaque. */
function decodePageToken(token: string): string | undefined {
  if (!token) return undefined;
  const id = Buffer.from(token, "base64url").toString("utf8");
  if (!UUID.test(id))
    throw new InvalidArgumentError("page.page_token", "not a token this service issued");
  return id;
}

/** GetUser, ListUsers, SetUserRoles and SetUserStatus: admin only. */
export function createAdminHandlers(
  deps: UserDeps,
): Pick<Impl, "getUser" | "listUsers" | "setUserRoles" | "setUserStatus"> {
  const { db } = deps;

  return {
    async getUser(req, ctx) {
      requireAdmin(ctx);
      const user = await findUserById(db, req.userId);
      if (!user) throw new NotFoundError(`user ${req.userId} not found`);
      return { user: userToProto(user) };
    },

    async listUsers(req, ctx) {
      requireAdmin(ctx);
      const limit = req.page?.pageSize || DEFAULT_PAGE_SIZE;
      const { users, total } = await listUsers(db, {
        query: req.query.trim(),
        role: roleFromProto(req.role),
        status: statusFromProto(req.status),
        afterId: decodePageToken(req.page?.pageToken ?? ""),
        limit,
      });
      const last = users.at(-1);
      return {
        users: users.map(userToProto),
        page: {
          nextPageToken:
            users.length === limit && last ? Buffer.from(last.id).toString("base64url") : "",
          totalSize: BigInt(total),
        },
      };
    },

    async setUserRoles(req, ctx) {
      const admin = requireAdmin(ctx);
      const roles = canonicalRoles(
        req.roles.map(roleFromProto).filter((r): r is RoleName => r !== undefined),
      );
      assertRoleChangeAllowed(admin.subject, req.userId, roles);
      const user = await db.transaction().execute(async (tx) => {
        const current = await findUserById(tx, req.userId, true);
        if (!current) throw new NotFoundError(`user ${req.userId} not found`);
        if (current.roles.join() === roles.join()) return current;
        const updated = await updateUser(tx, current.id, { roles });
        await publish(tx, userProfileUpdated(updated, ["roles"]));
        return updated;
      });
      return { user: userToProto(user) };
    },

    async setUserStatus(req, ctx) {
      const admin = requireAdmin(ctx);
      const status = statusFromProto(req.status);
      if (status !== "active" && status !== "suspended") {
        throw new InvalidArgumentError("status", "must be ACTIVE or SUSPENDED");
      }
      assertStatusChangeAllowed(admin.subject, req.userId, status);
      const user = await db.transaction().execute(async (tx) => {
        const current = await findUserById(tx, req.userId, true);
        if (!current) throw new NotFoundError(`user ${req.userId} not found`);
        await recordStatusChange(tx, {
          userId: current.id,
          status,
          reason: req.reason,
          changedBy: admin.subject,
        });
        if (status === "active") await clearAttempts(tx, "login_failure_email", current.email);
        else await revokeUserSessions(tx, current.id, "account suspended");
        if (current.status === status) return current;
        const updated = await updateUser(tx, current.id, { status, lockedUntil: null });
        await publish(tx, userProfileUpdated(updated, ["status"]));
        return updated;
      });
      return { user: userToProto(user) };
    },
  };
}
