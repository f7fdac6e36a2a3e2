import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AuthTokensSchema, UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import {
  AlreadyExistsError,
  ResourceExhaustedError,
  UnauthenticatedError,
} from "@shopmesh/platform/errors";
import type { HandlerContext, ServiceImpl } from "@shopmesh/platform/handler-context";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { assertMaySignIn, normalizeEmail } from "../domain/account.ts";
import { clientAddress, loginVerdict } from "../domain/login-throttle.ts";
import {
  hashToken,
  hashVerificationCode,
  newVerificationCode,
  VERIFICATION_CODE_TTL_MS,
} from "../domain/one-time-secrets.ts";
import { hashPassword, verifyPassword } from "../domain/password-hash.ts";
import { decideRefresh, type RefreshRejection, refreshRejection } from "../domain/sessions.ts";
import {
  EmailVerificationReason,
  emailVerificationRequested,
  publish,
  userRegistered,
} from "../events.ts";
import { clearAttempts, failureWindow, recordAttempt } from "../store/auth-attempts.ts";
import { replaceVerificationCode } from "../store/one-time-secrets.ts";
import {
  findRefreshToken,
  markRefreshTokenUsed,
  revokeSession,
  revokeUserSessions,
} from "../store/sessions.ts";
import {
  findUserByEmail,
  findUserById,
  insertUser,
  isUniqueViolation,
  updateUser,
} from "../store/users.ts";
import type { UserDeps } from "./deps.ts";
import { userToProto } from "./mapping.ts";
import { continueSession, startSession } from "./session-tokens.ts";

type Impl = ServiceImpl<typeof UserService>;
type AuthTokensInit = MessageInitShape<typeof AuthTokensSchema>;

const WRONG_CREDENTIALS = "wrong email or password";

/** The client address a throttle keys on (see README: last x-forwarded-for entry, else peer). */
export function callerAddress(ctx: HandlerContext): string {
  const [forwarded] = ctx.metadata.get("x-forwarded-for");
  return clientAddress(typeof forwarded === "string" ? forwarded : undefined, ctx.peer);
}

/** Register, Login, Refresh and Logout: creating and ending sessions. */
export function createSignInHandlers(
  deps: UserDeps,
): Pick<Impl, "register" | "login" | "refresh" | "logout"> {
  const { db, tokens, sealer, scrypt, throttle, refreshTtlMs } = deps;
  // Unknown emails are checked against this hash, so they cost as much time as a real one.
  let dummyHash: Promise<string> | undefined;

  return {
    async register(req) {
      const email = normalizeEmail(req.email);
      const passwordHash = await hashPassword(req.password, scrypt);
      const code = newVerificationCode();
      const expiresAt = new Date(Date.now() + VERIFICATION_CODE_TTL_MS);
      const sealed = await sealer.seal({ code });
      try {
        return await db.transaction().execute(async (tx) => {
          const user = await insertUser(tx, {
            id: uuidv7(),
            email,
            passwordHash,
            name: req.name.trim(),
            phone: req.phone,
            roles: ["customer"],
            emailVerified: false,
          });
          const codeHash = hashVerificationCode(user.id, code);
          await replaceVerificationCode(tx, { userId: user.id, codeHash, expiresAt });
          await recordAttempt(tx, "verification_sent", email);
          const session = await startSession(tx, tokens, user, refreshTtlMs);
          await publish(
            tx,
            userRegistered(user),
            emailVerificationRequested(
              user,
              sealed,
              expiresAt,
              EmailVerificationReason.REGISTRATION,
            ),
          );
          return { user: userToProto(user), tokens: session };
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new AlreadyExistsError(`an account with email ${email} already exists`);
        }
        throw err;
      }
    },

    async login(req, ctx) {
      const email = normalizeEmail(req.email);
      const address = callerAddress(ctx);
      const max = { email: throttle.maxFailuresPerEmail, address: throttle.maxFailuresPerAddress };
      const [byEmail, byAddress] = await Promise.all([
        failureWindow(db, "login_failure_email", email, max.email, throttle.windowMs),
        failureWindow(db, "login_failure_address", address, max.address, throttle.windowMs),
      ]);
      const verdict = loginVerdict(byEmail, byAddress, throttle, new Date());
      if (!verdict.allowed) {
        throw new ResourceExhaustedError(
          `too many failed sign-in attempts from this ${verdict.scope === "email" ? "account" : "address"}; try again in ${verdict.retryAfterSeconds} s`,
        );
      }
      const user = await findUserByEmail(db, email);
      dummyHash ??= hashPassword("not-a-password", scrypt);
      const check = await verifyPassword(
        req.password,
        user?.passwordHash ?? (await dummyHash),
        scrypt,
      );
      if (!user || !check.ok) {
        await db.transaction().execute(async (tx) => {
          await recordAttempt(tx, "login_failure_email", email);
          await recordAttempt(tx, "login_failure_address", address);
          const after = await failureWindow(
            tx,
            "login_failure_email",
            email,
            max.email,
            throttle.windowMs,
          );
          if (user && user.status === "active" && after.limitingFailureAt) {
            const lockedUntil = new Date(after.limitingFailureAt.getTime() + throttle.windowMs);
            await updateUser(tx, user.id, { status: "locked", lockedUntil });
          }
        });
        throw new UnauthenticatedError(WRONG_CREDENTIALS);
      }
      const now = new Date();
      assertMaySignIn(user, now);
      const newHash = check.needsRehash ? await hashPassword(req.password, scrypt) : undefined;
      return db.transaction().execute(async (tx) => {
        let current = user;
        if (user.status === "locked" || newHash) {
          current = await updateUser(tx, user.id, {
            ...(user.status === "locked" ? { status: "active" as const, lockedUntil: null } : {}),
            ...(newHash ? { passwordHash: newHash } : {}),
          });
        }
        await clearAttempts(tx, "login_failure_email", email);
        return {
          user: userToProto(current),
          tokens: await startSession(tx, tokens, current, refreshTtlMs),
        };
      });
    },

    async refresh(req) {
      const hash = hashToken(req.refreshToken);
      type Outcome = { rejected: RefreshRejection } | { tokens: AuthTokensInit };
      const outcome = await db.transaction().execute(async (tx): Promise<Outcome> => {
        const stored = await findRefreshToken(tx, hash);
        const decision = decideRefresh(stored, new Date());
        if (decision.action === "reject") return { rejected: decision.reason } as const;
        if (!stored) return { rejected: "unknown" } as const;
        if (decision.action === "revoke-session" || !(await markRefreshTokenUsed(tx, hash))) {
          await revokeSession(tx, stored.sessionId, "refresh token replayed");
          return { rejected: "replay" } as const;
        }
        const user = await findUserById(tx, stored.userId);
        if (!user || user.status === "suspended") {
          await revokeSession(tx, stored.sessionId, "account suspended");
          return { rejected: "revoked" } as const;
        }
        return { tokens: await continueSession(tx, tokens, user, stored) };
      });
      if ("rejected" in outcome) throw new UnauthenticatedError(refreshRejection(outcome.rejected));
      return { tokens: outcome.tokens };
    },

    async logout(req) {
      await db.transaction().execute(async (tx) => {
        const stored = await findRefreshToken(tx, hashToken(req.refreshToken));
        if (!stored) return;
        if (req.allSessions) await revokeUserSessions(tx, stored.userId, "logout everywhere");
        else await revokeSession(tx, stored.sessionId, "logout");
      });
      return {};
    },
  };
}
