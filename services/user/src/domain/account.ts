import { FailedPreconditionError } from "@shopmesh/platform/errors";

/** Role names as stored and put in access tokens (services/README.md). */
export type RoleName = "customer" | "admin";
/** Account states as stored. */
export type StatusName = "active" | "locked" | "suspended";

/** The account fields the rules look at. */
export interface Account {
  id: string;
  email: string;
  name: string;
  phone: string;
  emailVerified: boolean;
  roles: RoleName[];
  status: StatusName;
  lockedUntil: Date | null;
}

/** Emails are compared and stored lower-cased and trimmed. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Profile fields a user may change. */
export type ProfileField = "name" | "phone";

/**
 * Which fields an UpdateProfile writes: the mask's paths, or every non-empty one when the mask
 * is empty (so clearing the phone needs an explicit mask), and only those that really change.
 */
export function profileChanges(
  current: Pick<Account, ProfileField>,
  input: Pick<Account, ProfileField>,
  maskPaths: readonly string[],
): Partial<Pick<Account, ProfileField>> {
  const fields: ProfileField[] =
    maskPaths.length > 0
      ? (["name", "phone"] as const).filter((f) => maskPaths.includes(f))
      : (["name", "phone"] as const).filter((f) => input[f] !== "");
  const changes: Partial<Pick<Account, ProfileField>> = {};
  for (const field of fields) {
    if (input[field] !== current[field]) changes[field] = input[field];
  }
  return changes;
}

/**
 * Whether the account may start a session once its password checked out. A lock whose
 * cool-down has passed no longer counts (the caller clears it).
 */
export function assertMaySignIn(account: Account, now: Date): void {
  if (account.status === "suspended") {
    throw new FailedPreconditionError("account is suspended; contact support");
  }
  if (account.status === "locked" && account.lockedUntil && account.lockedUntil > now) {
    throw new FailedPreconditionError(
      "account is temporarily locked after repeated failed sign-ins; try again later",
    );
  }
}

/** Roles in a stable order, customer first, without duplicates. */
export function canonicalRoles(roles: readonly RoleName[]): RoleName[] {
  return (["customer", "admin"] as const).filter((r) => roles.includes(r));
}

/** Guards an admin's role change: nobody can take their own admin role away (no lock-out). */
export function assertRoleChangeAllowed(
  actorId: string,
  targetId: string,
  newRoles: readonly RoleName[],
): void {
  if (actorId === targetId && !newRoles.includes("admin")) {
    throw new FailedPreconditionError("an admin cannot remove their own admin role");
  }
}

/** Guards an admin's status change: suspending yourself would lock the admin out. */
export function assertStatusChangeAllowed(
  actorId: string,
  targetId: string,
  status: StatusName,
): void {
  if (actorId === targetId && status !== "active") {
    throw new FailedPreconditionError("an admin cannot suspend their own account");
  }
}
