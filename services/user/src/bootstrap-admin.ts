import type { Logger } from "@shopmesh/platform/logger";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { normalizeEmail } from "./domain/account.ts";
import { hashPassword, type ScryptParams } from "./domain/password-hash.ts";
import { publish, userRegistered } from "./events.ts";
import type { Db } from "./store/tables.ts";
import { findUserByEmail, insertUser, isUniqueViolation } from "./store/users.ts";

/**
 * Creates the first admin account from configuration when it does not exist yet, so a fresh
 * local run (and its demo data) has someone who can call the admin RPCs. Does nothing when the
 * account exists, whatever its roles: an admin may have changed them since.
 */
export async function ensureBootstrapAdmin(
  db: Db,
  account: { email: string; password: string },
  scrypt: ScryptParams,
  logger: Logger,
): Promise<void> {
  if (!account.email) return;
  const email = normalizeEmail(account.email);
  if (await findUserByEmail(db, email)) return;
  if (account.password.length < 8) {
    throw new Error("USER_BOOTSTRAP_ADMIN_PASSWORD must be at least 8 characters");
  }
  const passwordHash = await hashPassword(account.password, scrypt);
  try {
    await db.transaction().execute(async (tx) => {
      const user = await insertUser(tx, {
        id: uuidv7(),
        email,
        passwordHash,
        name: "Administrator",
        phone: "",
        roles: ["customer", "admin"],
        emailVerified: true,
      });
      await publish(tx, userRegistered(user));
    });
    logger.info({ email }, "bootstrap admin account created");
  } catch (err) {
    if (!isUniqueViolation(err)) throw err; // another replica created it
  }
}
