import type { OrderService } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { CancellationReason as ProtoReason } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import type {
  ShippingService,
  TrackingEvent,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import {
  hasRole,
  ROLE_ADMIN,
  requireAdmin,
  requireSelfOrAdmin,
  requireUser,
} from "@shopmesh/platform/auth";
import {
  Code,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  RpcError,
} from "@shopmesh/platform/errors";
import type { Client } from "@shopmesh/platform/grpc-client";
import type { HandlerContext, ServiceImpl } from "@shopmesh/platform/handler-context";
import type { Logger } from "@shopmesh/platform/logger";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { type PricedOrder, priceOrder, type QuoteClients, requestHash } from "./checkout.ts";
import { nextStepKind } from "./domain/next-step.ts";
import { InvalidTransitionError, type Order } from "./domain/order.ts";
import { cancelOrder, placeOrder } from "./domain/transitions.ts";
import {
  fromProtoAddress,
  fromProtoStatus,
  toProtoOrder,
  toProtoShipment,
  toProtoStatusChange,
} from "./proto-mapping.ts";
import type { SagaWorker } from "./saga/worker.ts";
import { DuplicateIdempotencyKeyError, type OrderStore, type StoredOrder } from "./store.ts";

/** What the order handlers need; built once in main.ts. */
export interface OrderHandlerDeps {
  store: OrderStore;
  clients: QuoteClients & { shipping: Client<typeof ShippingService> };
  /** The saga: starts a placed order, resumes a cancelled one. */
  saga: Pick<SagaWorker, "admit" | "kick">;
  logger: Logger;
  /** How long the inventory step may take before the order is cancelled. */
  inventoryStepTimeoutMs: number;
}

const DEFAULT_PAGE = 20;

function decodeCursor(token: string): string | undefined {
  if (!token) return undefined;
  const id = Buffer.from(token, "base64url").toString("utf8");
  if (!/^[0-9a-f-]{36}$/.test(id))
    throw new InvalidArgumentError("page.page_token", "is not a token this service issued");
  return id;
}
const encodeCursor = (id: string) => Buffer.from(id, "utf8").toString("base64url");

/**
 * Loads an order the caller may see. Another user's order answers NOT_FOUND, exactly like a
 * missing one, so order ids cannot be probed.
 */
async function visibleOrder(
  store: OrderStore,
  ctx: HandlerContext,
  orderId: string,
): Promise<StoredOrder> {
  const principal = requireUser(ctx);
  const stored = await store.get(orderId);
  if (!stored || (stored.order.userId !== principal.subject && !hasRole(principal, ROLE_ADMIN))) {
    throw new NotFoundError(`order ${orderId} not found`);
  }
  return stored;
}

/** The idempotent answer for a key that already has an order. */
function replay(existing: StoredOrder, hash: string, key: string): Order {
  if (existing.requestHash !== hash) {
    throw new FailedPreconditionError(
      `idempotency_key: ${key} was already used for order ${existing.order.id} with a different request`,
    );
  }
  return existing.order;
}

/** Creates the OrderService implementation. */
export function createOrderHandlers(deps: OrderHandlerDeps): ServiceImpl<typeof OrderService> {
  const { store } = deps;

  return {
    async placeOrder(req, ctx) {
      const principal = requireUser(ctx);
      if (principal.subject !== req.userId) {
        throw new PermissionDeniedError(
          `user_id: orders can only be placed for the signed-in user`,
        );
      }
      const hash = requestHash(req);
      // The key is looked up only when it may be in use: a new order costs its insert alone,
      // and a retry (rare) is priced again before its insert finds the key taken.
      const answerFromKey = async () => {
        const existing = await store.findByIdempotencyKey(req.userId, req.idempotencyKey);
        return existing && { order: toProtoOrder(replay(existing, hash, req.idempotencyKey)) };
      };
      let priced: PricedOrder;
      try {
        priced = await priceOrder(req, deps.clients);
      } catch (err) {
        // A retry answers as the first call did, even if its lines can no longer be priced.
        const answer = await answerFromKey();
        if (answer) return answer;
        throw err;
      }
      const now = new Date();
      const placed = placeOrder({
        id: uuidv7(now.getTime()),
        userId: req.userId,
        idempotencyKey: req.idempotencyKey,
        items: priced.items,
        shippingAddress: fromProtoAddress(req.shippingAddress!),
        serviceLevel: priced.serviceLevel,
        carrierCode: priced.carrierCode,
        currencyCode: req.currencyCode,
        totals: priced.totals,
        now,
        reserveDeadlineAt: new Date(now.getTime() + deps.inventoryStepTimeoutMs),
      });
      const slot = deps.saga.admit();
      try {
        const inserted = await store.insert(placed, hash, req.paymentMethodToken, slot?.leaseUntil);
        slot?.run(inserted);
      } catch (err) {
        slot?.cancel();
        if (!(err instanceof DuplicateIdempotencyKeyError)) throw err;
        // The key has an order already (a retry, or a concurrent one that won): answer with it.
        const answer = await answerFromKey();
        if (!answer) throw err;
        return answer;
      }
      return { order: toProtoOrder(placed.order) };
    },

    async getOrder(req, ctx) {
      const { order } = await visibleOrder(store, ctx, req.orderId);
      return { order: toProtoOrder(order) };
    },

    async listUserOrders(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const pageSize = req.page?.pageSize || DEFAULT_PAGE;
      const afterId = decodeCursor(req.page?.pageToken ?? "");
      const page = await store.list({
        userId: req.userId,
        statuses: req.statuses.map(fromProtoStatus),
        pageSize,
        ...(afterId ? { afterId } : {}),
      });
      return {
        orders: page.orders.map(toProtoOrder),
        page: {
          nextPageToken: page.more ? encodeCursor(page.orders.at(-1)!.id) : "",
          totalSize: BigInt(page.total),
        },
      };
    },

    async cancelOrder(req, ctx) {
      const principal = requireUser(ctx);
      const stored = await visibleOrder(store, ctx, req.orderId);
      const isAdmin = hasRole(principal, ROLE_ADMIN);
      const reason =
        req.reason === ProtoReason.ADMIN_REQUESTED ? "ADMIN_REQUESTED" : "USER_REQUESTED";
      if (reason === "ADMIN_REQUESTED" && !isAdmin) {
        throw new PermissionDeniedError("reason: ADMIN_REQUESTED needs the admin role");
      }
      if (stored.order.userId !== principal.subject && reason !== "ADMIN_REQUESTED") {
        throw new InvalidArgumentError(
          "reason",
          "staff cancelling another user's order must give ADMIN_REQUESTED",
        );
      }
      let order: Order | undefined;
      try {
        order = await store.apply(
          req.orderId,
          (o) =>
            cancelOrder(o, {
              reason,
              detail: req.detail,
              byUserId: principal.subject,
              at: new Date(),
            }),
          // Due now even if a retry was scheduled later: compensation should not wait out a
          // backoff. A worker that holds the order may then race the sweeper; every step is
          // idempotent, so that costs at most a repeated call.
          { schedule: (o) => (nextStepKind(o) === "wait" ? null : new Date()) },
        );
      } catch (err) {
        if (err instanceof InvalidTransitionError) {
          throw new FailedPreconditionError(
            `order ${req.orderId} is ${err.from} and can no longer be cancelled`,
          );
        }
        throw err;
      }
      if (!order) throw new NotFoundError(`order ${req.orderId} not found`);
      deps.saga.kick(order.id);
      return { order: toProtoOrder(order) };
    },

    async trackOrder(req, ctx) {
      const { order } = await visibleOrder(store, ctx, req.orderId);
      let trackingEvents: TrackingEvent[] = [];
      if (order.shipment) {
        try {
          const authorization = ctx.metadata.get("authorization")[0];
          const { shipment } = await deps.clients.shipping.getShipmentByOrder(
            { orderId: order.id },
            { metadata: authorization ? { authorization: String(authorization) } : {} },
          );
          trackingEvents = shipment?.events ?? [];
        } catch (err) {
          // Tracking is a nicety: without the shipping service the order's own history stands.
          if (!(err instanceof RpcError) || err.code === Code.INVALID_ARGUMENT) throw err;
          deps.logger.warn({ err, orderId: order.id }, "tracking events unavailable");
        }
      }
      return {
        orderId: order.id,
        status: toProtoOrder(order).status,
        statusHistory: order.statusHistory.map(toProtoStatusChange),
        ...(order.shipment ? { shipment: toProtoShipment(order.shipment) } : {}),
        trackingEvents,
      };
    },

    async listOrders(req, ctx) {
      requireAdmin(ctx);
      const pageSize = req.page?.pageSize || DEFAULT_PAGE;
      const afterId = decodeCursor(req.page?.pageToken ?? "");
      const toDate = (t: { seconds: bigint; nanos: number } | undefined) =>
        t ? new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)) : undefined;
      const createdAfter = toDate(req.createdAfter);
      const createdBefore = toDate(req.createdBefore);
      const page = await store.list({
        statuses: req.statuses.map(fromProtoStatus),
        pageSize,
        ...(req.userId ? { userId: req.userId } : {}),
        ...(createdAfter ? { createdAfter } : {}),
        ...(createdBefore ? { createdBefore } : {}),
        ...(afterId ? { afterId } : {}),
      });
      return {
        orders: page.orders.map(toProtoOrder),
        page: {
          nextPageToken: page.more ? encodeCursor(page.orders.at(-1)!.id) : "",
          totalSize: BigInt(page.total),
        },
      };
    },
  };
}
