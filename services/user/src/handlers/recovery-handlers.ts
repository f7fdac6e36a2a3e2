import type { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { InvalidArgumentError } from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { normalizeEmail } from "../domain/account.ts";
import {
  MAX_PASSWORD_RESETS_PER_HOUR,
  MAX_VERIFICATION_RESENDS_PER_HOUR,
} from "../domain/limits.ts";
import {
  checkVerificationCode,
  hashToken,
  hashVerificationCode,
  newOpaqueToken,
  newVerificationCode,
  PASSWORD_RESET_TTL_MS,
  VERIFICATION_CODE_TTL_MS,
} from "../domain/one-time-secrets.ts";
import { hashPassword } from "../domain/password-hash.ts";
import {
  EmailVerificationReason,
  emailVerificationRequested,
  passwordResetRequested,
  publish,
  userProfileUpdated,
} from "../events.ts";
import { clearAttempts, countAttempts, recordAttempt } from "../store/auth-attempts.ts";
import {
  consumeResetToken,
  countWrongCode,
  deleteVerificationCode,
  expireResetTokens,
  findVerificationCode,
  insertResetToken,
  replaceVerificationCode,
} from "../store/one-time-secrets.ts";
import { revokeUserSessions } from "../store/sessions.ts";
import { findUserByEmail, findUserById, type UserRecord, updateUser } from "../store/users.ts";
import type { UserDeps } from "./deps.ts";
import { userToProto } from "./mapping.ts";

type Impl = ServiceImpl<typeof UserService>;

const HOUR_MS = 3600_000;

const CODE_ERRORS = {
  wrong: "wrong verification code",
  burnt: "wrong verification code; too many attempts, request a new code",
  expired: "verification code expired; request a new code",
  none: "no valid verification code for this email; request a new code",
} as const;

/** VerifyEmail, ResendVerification, RequestPasswordReset, ResetPassword and GetJwks. */
export function createRecoveryHandlers(
  deps: UserDeps,
): Pick<
  Impl,
  "verifyEmail" | "resendVerification" | "requestPasswordReset" | "resetPassword" | "getJwks"
> {
  const { db, sealer, scrypt, tokens } = deps;

  return {
    async verifyEmail(req) {
      const email = normalizeEmail(req.email);
      type Outcome = { user: UserRecord } | { error: string };
      const outcome = await db.transaction().execute(async (tx): Promise<Outcome> => {
        const user = await findUserByEmail(tx, email, true);
        if (!user) return { error: CODE_ERRORS.none };
        const pending = await findVerificationCode(tx, user.id);
        const check = checkVerificationCode(
          pending,
          hashVerificationCode(user.id, req.code),
          new Date(),
        );
        switch (check.result) {
          case "accepted": {
            await deleteVerificationCode(tx, user.id);
            const verified = await updateUser(tx, user.id, { emailVerified: true });
            await publish(tx, userProfileUpdated(verified, ["email_verified"]));
            return { user: verified };
          }
          case "wrong":
            if (check.burnt) await deleteVerificationCode(tx, user.id);
            else await countWrongCode(tx, user.id);
            return { error: check.burnt ? CODE_ERRORS.burnt : CODE_ERRORS.wrong };
          default:
            return { error: CODE_ERRORS[check.result] };
        }
      });
      if ("error" in outcome) throw new InvalidArgumentError("code", outcome.error);
      return { user: userToProto(outcome.user) };
    },

    async resendVerification(req) {
      const email = normalizeEmail(req.email);
      const user = await findUserByEmail(db, email);
      if (!user || user.emailVerified) return {};
      if (
        (await countAttempts(db, "verification_sent", email, HOUR_MS)) >=
        MAX_VERIFICATION_RESENDS_PER_HOUR
      ) {
        deps.logger.info({ userId: user.id }, "verification resend throttled");
        return {};
      }
      const code = newVerificationCode();
      const expiresAt = new Date(Date.now() + VERIFICATION_CODE_TTL_MS);
      const sealed = await sealer.seal({ code });
      await db.transaction().execute(async (tx) => {
        const codeHash = hashVerificationCode(user.id, code);
        await replaceVerificationCode(tx, { userId: user.id, codeHash, expiresAt });
        await recordAttempt(tx, "verification_sent", email);
        await publish(
          tx,
          emailVerificationRequested(user, sealed, expiresAt, EmailVerificationReason.RESEND),
        );
      });
      return {};
    },

    async requestPasswordReset(req) {
      const email = normalizeEmail(req.email);
      const token = newOpaqueToken();
      // Sealed even for unknown emails, so both answers take about as long.
      const sealed = await sealer.seal({ token });
      const user = await findUserByEmail(db, email);
      if (!user || user.status === "suspended") return {};
      if (
        (await countAttempts(db, "password_reset_sent", email, HOUR_MS)) >=
        MAX_PASSWORD_RESETS_PER_HOUR
      ) {
        deps.logger.info({ userId: user.id }, "password reset request throttled");
        return {};
      }
      const expiresAt = new Date(Date.now() + PASSWORD_RESET_TTL_MS);
      await db.transaction().execute(async (tx) => {
        await insertResetToken(tx, { userId: user.id, tokenHash: hashToken(token), expiresAt });
        await recordAttempt(tx, "password_reset_sent", email);
        await publish(tx, passwordResetRequested(user, sealed, expiresAt));
      });
      return {};
    },

    async resetPassword(req) {
      const passwordHash = await hashPassword(req.newPassword, scrypt);
      const reset = await db.transaction().execute(async (tx) => {
        const userId = await consumeResetToken(tx, hashToken(req.token));
        const user = userId && (await findUserById(tx, userId, true));
        if (!user) return false;
        const unlock = user.status === "locked";
        const updated = await updateUser(tx, user.id, {
          passwordHash,
          ...(unlock ? { status: "active" as const, lockedUntil: null } : {}),
        });
        await expireResetTokens(tx, user.id);
        await revokeUserSessions(tx, user.id, "password reset");
        await clearAttempts(tx, "login_failure_email", user.email);
        await publish(
          tx,
          userProfileUpdated(updated, unlock ? ["password", "status"] : ["password"]),
        );
        return true;
      });
      if (!reset)
        throw new InvalidArgumentError("token", "reset token is unknown, used or expired");
      return {};
    },

    async getJwks() {
      const jwks = await tokens.jwks();
      return {
        keys: jwks.keys.map((k) => ({
          kty: k.kty ?? "",
          kid: k.kid ?? "",
          use: k.use ?? "sig",
          alg: k.alg ?? "",
          crv: k.crv ?? "",
          x: k.x ?? "",
          y: k.y ?? "",
          n: k.n ?? "",
          e: k.e ?? "",
        })),
      };
    },
  };
}
