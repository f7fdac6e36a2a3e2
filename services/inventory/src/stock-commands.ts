import { FailedPreconditionError, NotFoundError } from "@shopmesh/platform/errors";
import { appendToOutbox } from "@shopmesh/platform/outbox";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { adjustOnHand, type OnHandChange, type Stock } from "./domain/stock.ts";
import { crossingEvents } from "./events.ts";
import {
  type AdjustmentRecord,
  type Db,
  discontinueStock,
  findAdjustmentByKey,
  getStocks,
  insertAdjustment,
  insertMissingStock,
  lockStocks,
  setOnHand,
  setThreshold,
  type Trx,
} from "./store.ts";

/** What the stock commands need. */
export interface StockDeps {
  db: Db;
  /** Low-stock threshold of newly tracked variants. */
  defaultLowStockThreshold: number;
}

/** A manual stock change as an admin asks for it. */
export interface AdjustStockInput {
  variantId: string;
  change: OnHandChange;
  reason: string;
  note: string;
  actorUserId: string;
  idempotencyKey: string;
}

/** Thrown inside a transaction to roll it back when a concurrent call used the key first. */
class KeyTaken extends Error {}

/** Stock-level commands: admin adjustments and thresholds, and tracking catalog variants. */
export function createStockCommands(deps: StockDeps) {
  const { db } = deps;

  /** Applies an adjustment in `trx` (stock row created if missing), with audit entry and events. */
  async function adjustIn(trx: Trx, input: AdjustStockInput, productId: string | null = null) {
    await insertMissingStock(trx, [
      { variantId: input.variantId, productId, lowStockThreshold: deps.defaultLowStockThreshold },
    ]);
    const before = await lockStocks(trx, [input.variantId]);
    const current = before.get(input.variantId)!;
    const { onHandBefore, onHandAfter, delta } = adjustOnHand(current, input.change);
    const adjustment = await insertAdjustment(trx, {
      id: uuidv7(),
      variantId: input.variantId,
      delta,
      onHandBefore,
      onHandAfter,
      reason: input.reason,
      note: input.note,
      actorUserId: input.actorUserId,
      idempotencyKey: input.idempotencyKey,
    });
    if (!adjustment) throw new KeyTaken();
    const stock = await setOnHand(trx, input.variantId, onHandAfter);
    await appendToOutbox(trx, crossingEvents(before, new Map([[stock.variantId, stock]])));
    return { stock, adjustment };
  }

  /**
   * AdjustStock: changes on_hand once per idempotency key. A retry returns the first
   * adjustment with the current stock; reusing a key for another variant is refused.
   */
  async function adjustStock(
    input: AdjustStockInput,
  ): Promise<{ stock: Stock; adjustment: AdjustmentRecord }> {
    const replay = async () => {
      const first = await findAdjustmentByKey(db, input.idempotencyKey);
      if (!first) return undefined;
      if (first.variantId !== input.variantId) {
        throw new FailedPreconditionError(
          `idempotency_key ${input.idempotencyKey} was already used for variant ${first.variantId}`,
        );
      }
      const stock = (await getStocks(db, [first.variantId])).get(first.variantId)!;
      return { stock, adjustment: first };
    };
    const earlier = await replay();
    if (earlier) return earlier;
    try {
      return await db.transaction().execute((trx) => adjustIn(trx, input));
    } catch (err) {
      if (!(err instanceof KeyTaken)) throw err;
      const winner = await replay();
      if (!winner) throw err;
      return winner;
    }
  }

  /** SetLowStockThreshold; NOT_FOUND for a variant inventory does not track. */
  async function setLowStockThreshold(variantId: string, threshold: number): Promise<Stock> {
    const stock = await setThreshold(db, variantId, threshold);
    if (!stock) throw new NotFoundError(`variant ${variantId} has no stock record`);
    return stock;
  }

  /**
   * Starts tracking a product's variants (product.created / product.updated). Variants already
   * tracked are untouched; new ones start at zero, or at their initial count, recorded as an
   * INITIAL adjustment keyed by the event so a replay cannot apply it twice.
   */
  async function startTracking(
    trx: Trx,
    productId: string,
    variants: readonly { variantId: string; initialOnHand: number }[],
    eventId: string,
  ): Promise<Stock[]> {
    const created = await insertMissingStock(
      trx,
      variants.map((v) => ({
        variantId: v.variantId,
        productId,
        lowStockThreshold: deps.defaultLowStockThreshold,
      })),
    );
    const fresh = new Set(created.map((s) => s.variantId));
    for (const v of variants) {
      if (!fresh.has(v.variantId) || v.initialOnHand <= 0) continue;
      await adjustIn(
        trx,
        {
          variantId: v.variantId,
          change: { setOnHand: v.initialOnHand },
          reason: "INITIAL",
          note: "initial stock from product.created",
          actorUserId: "catalog",
          idempotencyKey: `product.created:${eventId}:${v.variantId}`,
        },
        productId,
      );
    }
    return created;
  }

  /** product.deleted: the variants can no longer be reserved; history stays. */
  function discontinue(trx: Trx, variantIds: readonly string[]): Promise<void> {
    return discontinueStock(trx, variantIds);
  }

  return { adjustStock, setLowStockThreshold, startTracking, discontinue };
}

/** The stock commands. */
export type StockCommands = ReturnType<typeof createStockCommands>;
