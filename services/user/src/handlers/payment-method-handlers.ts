import type { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { requireSelfOrAdmin } from "@shopmesh/platform/auth";
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { cardExpired, MAX_PAYMENT_METHODS } from "../domain/limits.ts";
import {
  clearDefaultPaymentMethod,
  countPaymentMethods,
  deletePaymentMethod,
  findPaymentMethod,
  insertPaymentMethod,
  listPaymentMethods,
  markDefaultPaymentMethod,
  promoteNewestPaymentMethod,
} from "../store/payment-methods.ts";
import { findUserById, isUniqueViolation } from "../store/users.ts";
import type { UserDeps } from "./deps.ts";
import { brandToName, cardSummary, paymentMethodToProto } from "./mapping.ts";

type Impl = ServiceImpl<typeof UserService>;

function notFound(id: string): NotFoundError {
  return new NotFoundError(`payment method ${id} not found`);
}

/**
 * Saved cards. Only the gateway token and what the gateway reports about it (brand, last four,
 * expiry) are stored; the client never supplies those details, so they cannot be forged.
 */
export function createPaymentMethodHandlers(
  deps: UserDeps,
): Pick<
  Impl,
  | "listPaymentMethods"
  | "addPaymentMethod"
  | "deletePaymentMethod"
  | "setDefaultPaymentMethod"
  | "getPaymentMethodToken"
> {
  const { db, cards } = deps;

  return {
    async listPaymentMethods(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const methods = await listPaymentMethods(db, req.userId);
      return { paymentMethods: methods.map(paymentMethodToProto) };
    },

    async addPaymentMethod(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const card = await cards.describe(req.gatewayToken, ctx.signal);
      if (!card) throw new InvalidArgumentError("gateway_token", "unknown card token");
      if (!/^[0-9]{4}$/.test(card.last4) || card.expMonth < 1 || card.expMonth > 12) {
        throw new FailedPreconditionError("the gateway described the card incompletely");
      }
      if (cardExpired(card.expMonth, card.expYear, new Date())) {
        throw new FailedPreconditionError(`card ending ${card.last4} has expired`);
      }
      try {
        const saved = await db.transaction().execute(async (tx) => {
          if (!(await findUserById(tx, req.userId, true))) {
            throw new NotFoundError(`user ${req.userId} not found`);
          }
          const count = await countPaymentMethods(tx, req.userId);
          if (count >= MAX_PAYMENT_METHODS) {
            throw new FailedPreconditionError(
              `user ${req.userId} already has ${MAX_PAYMENT_METHODS} saved cards`,
            );
          }
          const isDefault = count === 0 || req.makeDefault;
          if (isDefault) await clearDefaultPaymentMethod(tx, req.userId);
          return insertPaymentMethod(tx, {
            id: uuidv7(),
            userId: req.userId,
            gatewayToken: req.gatewayToken,
            brand: brandToName(card.brand),
            last4: card.last4,
            expMonth: card.expMonth,
            expYear: card.expYear,
            isDefault,
          });
        });
        return { paymentMethod: paymentMethodToProto(saved) };
      } catch (err) {
        if (isUniqueViolation(err)) throw new AlreadyExistsError("this card is already saved");
        throw err;
      }
    },

    async deletePaymentMethod(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      await db.transaction().execute(async (tx) => {
        await findUserById(tx, req.userId, true);
        const deleted = await deletePaymentMethod(tx, req.userId, req.paymentMethodId);
        if (!deleted) throw notFound(req.paymentMethodId);
        if (deleted.isDefault) await promoteNewestPaymentMethod(tx, req.userId);
      });
      return {};
    },

    async setDefaultPaymentMethod(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const methods = await db.transaction().execute(async (tx) => {
        await findUserById(tx, req.userId, true);
        if (!(await findPaymentMethod(tx, req.userId, req.paymentMethodId))) {
          throw notFound(req.paymentMethodId);
        }
        await clearDefaultPaymentMethod(tx, req.userId);
        await markDefaultPaymentMethod(tx, req.userId, req.paymentMethodId);
        return listPaymentMethods(tx, req.userId);
      });
      return { paymentMethods: methods.map(paymentMethodToProto) };
    },

    // Internal (no HTTP binding): anonymous mesh callers are admitted by the mesh policy; a
    // caller presenting a user token may only read that user's cards.
    async getPaymentMethodToken(req, ctx) {
      if (ctx.principal) requireSelfOrAdmin(ctx, req.userId);
      const method = await findPaymentMethod(db, req.userId, req.paymentMethodId);
      if (!method) throw notFound(req.paymentMethodId);
      return { gatewayToken: method.gatewayToken, card: cardSummary(method) };
    },
  };
}
