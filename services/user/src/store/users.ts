import { sql } from "kysely";
import type { Account, RoleName, StatusName } from "../domain/account.ts";
import type { Db, UsersTable } from "./tables.ts";

/** An account as stored, with timestamps and the password hash. */
export interface UserRecord extends Account {
  passwordHash: string;
  createdAt: Date;
  updatedAt: Date;
}

type UserRow = {
  [K in keyof UsersTable]: UsersTable[K] extends { __select__: infer S } ? S : UsersTable[K];
};

function toRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    name: row.name,
    phone: row.phone,
    emailVerified: row.email_verified,
    roles: row.roles,
    status: row.status,
    lockedUntil: row.locked_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const UNIQUE_VIOLATION = "23505";

/** True for Postgres' unique-violation error. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === UNIQUE_VIOLATION;
}

/** Creates an account; rejects with a unique violation if the email is taken. */
export async function insertUser(
  db: Db,
  user: {
    id: string;
    email: string;
    passwordHash: string;
    name: string;
    phone: string;
    roles: RoleName[];
    emailVerified: boolean;
  },
): Promise<UserRecord> {
  const row = await db
    .insertInto("users")
    .values({
      id: user.id,
      email: user.email,
      password_hash: user.passwordHash,
      name: user.name,
      phone: user.phone,
      roles: user.roles,
      email_verified: user.emailVerified,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

/** The account with this (normalised) email, if any; `forUpdate` locks its row. */
export async function findUserByEmail(
  db: Db,
  email: string,
  forUpdate = false,
): Promise<UserRecord | undefined> {
  let query = db.selectFrom("users").selectAll().where("email", "=", email);
  if (forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row && toRecord(row);
}

/** The account with this id, if any; `forUpdate` locks its row (serialising its writers). */
export async function findUserById(
  db: Db,
  id: string,
  forUpdate = false,
): Promise<UserRecord | undefined> {
  let query = db.selectFrom("users").selectAll().where("id", "=", id);
  if (forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row && toRecord(row);
}

/** Writes the given account fields and bumps updated_at; returns the account after. */
export async function updateUser(
  db: Db,
  id: string,
  fields: Partial<{
    name: string;
    phone: string;
    passwordHash: string;
    emailVerified: boolean;
    roles: RoleName[];
    status: StatusName;
    lockedUntil: Date | null;
  }>,
): Promise<UserRecord> {
  const row = await db
    .updateTable("users")
    .set({
      ...(fields.name !== undefined ? { name: fields.name } : {}),
      ...(fields.phone !== undefined ? { phone: fields.phone } : {}),
      ...(fields.passwordHash !== undefined ? { password_hash: fields.passwordHash } : {}),
      ...(fields.emailVerified !== undefined ? { email_verified: fields.emailVerified } : {}),
      ...(fields.roles !== undefined ? { roles: fields.roles } : {}),
      ...(fields.status !== undefined ? { status: fields.status } : {}),
      ...(fields.lockedUntil !== undefined ? { locked_until: fields.lockedUntil } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toRecord(row);
}

/** Records an admin's status change for the audit trail. */
export async function recordStatusChange(
  db: Db,
  change: { userId: string; status: StatusName; reason: string; changedBy: string },
): Promise<void> {
  await db
    .insertInto("user_status_changes")
    .values({
      user_id: change.userId,
      status: change.status,
      reason: change.reason,
      changed_by: change.changedBy,
    })
    .execute();
}

/** Filters of {@link listUsers}. */
export interface UserFilter {
  /** Case-insensitive prefix of email or name. */
  query: string;
  role: RoleName | undefined;
  status: StatusName | undefined;
  /** Id of the last user of the previous page (ids are UUIDv7, so id order is age order). */
  afterId: string | undefined;
  limit: number;
}

/** One page of accounts, newest first, and the total matching the filter. */
export async function listUsers(
  db: Db,
  filter: UserFilter,
): Promise<{ users: UserRecord[]; total: number }> {
  let base = db.selectFrom("users");
  if (filter.query) {
    const prefix = `${filter.query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    base = base.where((eb) =>
      eb.or([eb("email", "like", prefix), eb(sql`lower(name)`, "like", prefix)]),
    );
  }
  if (filter.role) base = base.where(sql<boolean>`${filter.role} = ANY(roles)`);
  if (filter.status) base = base.where("status", "=", filter.status);
  let page = base.selectAll().orderBy("id", "desc").limit(filter.limit);
  if (filter.afterId) page = page.where("id", "<", filter.afterId);
  const [rows, count] = await Promise.all([
    page.execute(),
    base.select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return { users: rows.map(toRecord), total: Number(count.n) };
}
