import { durationMs } from "@bufbuild/protobuf/wkt";
import {
  Availability,
  type InventoryService,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { requireAdmin } from "@shopmesh/platform/auth";
import { InvalidArgumentError, NotFoundError } from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { judgeAvailability, type Stock } from "./domain/stock.ts";
import {
  adjustmentMessage,
  adjustmentReasonName,
  releaseReasonName,
  reservationMessage,
  stockLevelMessage,
} from "./proto-mapping.ts";
import type { ReservationCommands } from "./reservations.ts";
import type { StockCommands } from "./stock-commands.ts";
import {
  type AdjustmentCursor,
  type Db,
  findReservation,
  findReservationByOrder,
  getStocks,
  listAdjustments,
} from "./store.ts";

/** What the handlers need; built once in main.ts. */
export interface HandlerDeps {
  db: Db;
  reservations: ReservationCommands;
  stock: StockCommands;
}

const DEFAULT_PAGE_SIZE = 20;

function encodeCursor(c: AdjustmentCursor): string {
  return Buffer.from(JSON.stringify({ t: c.createdAt.getTime(), i: c.id })).toString("base64url");
}

function decodeCursor(token: string): AdjustmentCursor | undefined {
  if (token === "") return undefined;
  try {
    const { t, i } = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      t: unknown;
      i: unknown;
    };
    if (typeof t === "number" && typeof i === "string" && /^[0-9a-f-]{36}$/.test(i)) {
      return { createdAt: new Date(t), id: i };
    }
  } catch {
    // fall through: any undecodable token is the caller's mistake
  }
  throw new InvalidArgumentError("page.page_token", "is not a token this list returned");
}

const availabilityCode = {
  IN_STOCK: Availability.IN_STOCK,
  LOW_STOCK: Availability.LOW_STOCK,
  INSUFFICIENT: Availability.INSUFFICIENT,
  OUT_OF_STOCK: Availability.OUT_OF_STOCK,
  UNKNOWN: Availability.UNKNOWN_VARIANT,
} as const;

function availableUnits(stock: Stock | undefined): number {
  if (!stock || stock.discontinued) return 0;
  return Math.max(0, stock.onHand - stock.reserved - stock.committed);
}

/**
 * The InventoryService implementation: proto in, command or query, proto out. Admin RPCs check
 * the role here; internal RPCs (no HTTP binding) are reachable only inside the mesh.
 */
export function createInventoryHandlers(deps: HandlerDeps): ServiceImpl<typeof InventoryService> {
  const { db, reservations, stock } = deps;
  return {
    async checkStock(req) {
      const found = await getStocks(
        db,
        req.lines.map((l) => l.variantId),
      );
      const results = req.lines.map((l) => {
        const s = found.get(l.variantId);
        return {
          variantId: l.variantId,
          requested: l.quantity,
          available: availableUnits(s),
          availability: availabilityCode[judgeAvailability(s, l.quantity)],
        };
      });
      const allAvailable = results.every(
        (r) =>
          r.availability === Availability.IN_STOCK || r.availability === Availability.LOW_STOCK,
      );
      return { results, allAvailable };
    },

    async getStock(req, ctx) {
      requireAdmin(ctx);
      const s = (await getStocks(db, [req.variantId])).get(req.variantId);
      if (!s) throw new NotFoundError(`variant ${req.variantId} has no stock record`);
      return { stock: stockLevelMessage(s) };
    },

    async batchGetStock(req) {
      const found = await getStocks(db, req.variantIds);
      return {
        stock: req.variantIds.flatMap((id) => {
          const s = found.get(id);
          return s ? [stockLevelMessage(s)] : [];
        }),
        missingVariantIds: req.variantIds.filter((id) => !found.has(id)),
      };
    },

    async adjustStock(req, ctx) {
      const admin = requireAdmin(ctx);
      const change =
        req.change.case === "delta"
          ? { delta: req.change.value }
          : { setOnHand: req.change.value ?? 0 };
      const result = await stock.adjustStock({
        variantId: req.variantId,
        change,
        reason: adjustmentReasonName(req.reason),
        note: req.note,
        actorUserId: admin.subject,
        idempotencyKey: req.idempotencyKey,
      });
      return {
        stock: stockLevelMessage(result.stock),
        adjustment: adjustmentMessage(result.adjustment),
      };
    },

    async setLowStockThreshold(req, ctx) {
      requireAdmin(ctx);
      return {
        stock: stockLevelMessage(await stock.setLowStockThreshold(req.variantId, req.threshold)),
      };
    },

    async listAdjustments(req, ctx) {
      requireAdmin(ctx);
      const limit = req.page?.pageSize || DEFAULT_PAGE_SIZE;
      const after = decodeCursor(req.page?.pageToken ?? "");
      const rows = await listAdjustments(db, {
        ...(req.variantId ? { variantId: req.variantId } : {}),
        ...(req.reason ? { reason: adjustmentReasonName(req.reason) } : {}),
        ...(after ? { after } : {}),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        adjustments: page.map(adjustmentMessage),
        page: { nextPageToken: rows.length > limit && last ? encodeCursor(last) : "" },
      };
    },

    async getReservation(req, ctx) {
      requireAdmin(ctx);
      const r = await findReservation(db, req.reservationId);
      if (!r) throw new NotFoundError(`reservation ${req.reservationId} not found`);
      return { reservation: reservationMessage(r) };
    },

    async listReservationsForOrder(req, ctx) {
      requireAdmin(ctx);
      const r = await findReservationByOrder(db, req.orderId);
      return { reservations: r ? [reservationMessage(r)] : [] };
    },

    async reserveStock(req) {
      const ttlMs = req.ttl ? durationMs(req.ttl) : undefined;
      const lines = req.lines.map((l) => ({ variantId: l.variantId, quantity: l.quantity }));
      return {
        reservation: reservationMessage(await reservations.reserveStock(req.orderId, lines, ttlMs)),
      };
    },

    async releaseReservation(req) {
      const r = await reservations.releaseReservation(req.orderId, releaseReasonName(req.reason));
      return r ? { reservation: reservationMessage(r) } : {};
    },

    async commitReservation(req) {
      return { reservation: reservationMessage(await reservations.commitReservation(req.orderId)) };
    },
  };
}
