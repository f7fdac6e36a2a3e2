import { type InboxKey, inboxOnce } from "@shopmesh/platform/inbox";
import type { PlatformTables } from "@shopmesh/platform/platform-migrations";
import {
  type ColumnType,
  type Generated,
  type Kysely,
  type Selectable,
  sql,
  type Transaction,
} from "kysely";
import type { ReleaseReason, Reservation, ReservationStatus } from "./domain/reservation.ts";
import type { Line, Shortage, Stock } from "./domain/stock.ts";

interface StockTable {
  variant_id: string;
  product_id: string | null;
  on_hand: number;
  reserved: number;
  committed: number;
  low_stock_threshold: number;
  discontinued_at: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

interface ReservationTable {
  id: string;
  order_id: string;
  status: ReservationStatus;
  expires_at: Date;
  release_reason: ReleaseReason | null;
  shortages: ColumnType<Shortage[], string, string>;
  created_at: Date;
  updated_at: Date;
}

interface ReservationLineTable {
  reservation_id: string;
  variant_id: string;
  quantity: number;
}

interface AdjustmentTable {
  id: string;
  variant_id: string;
  delta: number;
  on_hand_before: number;
  on_hand_after: number;
  reason: string;
  note: string;
  actor_user_id: string;
  idempotency_key: string;
  created_at: Generated<Date>;
}

/** The inventory database: its own tables plus the platform's outbox and inbox. */
export interface InventoryDb extends PlatformTables {
  stock: StockTable;
  reservations: ReservationTable;
  reservation_lines: ReservationLineTable;
  adjustments: AdjustmentTable;
}

/** A root handle or a transaction; reads work on either. */
export type Db = Kysely<InventoryDb>;
/** A transaction: every write and its outbox events share one. */
export type Trx = Transaction<InventoryDb>;

/** One audit-trail entry as stored. */
export interface AdjustmentRecord {
  id: string;
  variantId: string;
  delta: number;
  onHandBefore: number;
  onHandAfter: number;
  reason: string;
  note: string;
  actorUserId: string;
  idempotencyKey: string;
  createdAt: Date;
}

function toStock(row: Selectable<StockTable>): Stock {
  return {
    variantId: row.variant_id,
    onHand: row.on_hand,
    reserved: row.reserved,
    committed: row.committed,
    lowStockThreshold: row.low_stock_threshold,
    discontinued: row.discontinued_at !== null,
    updatedAt: row.updated_at,
  };
}

function toAdjustment(row: Selectable<AdjustmentTable>): AdjustmentRecord {
  return {
    id: row.id,
    variantId: row.variant_id,
    delta: row.delta,
    onHandBefore: row.on_hand_before,
    onHandAfter: row.on_hand_after,
    reason: row.reason,
    note: row.note,
    actorUserId: row.actor_user_id,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
  };
}

/** Stock rows of the given variants, keyed by variant id (missing ones are absent). */
export async function getStocks(
  db: Db,
  variantIds: readonly string[],
): Promise<Map<string, Stock>> {
  if (variantIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("stock")
    .selectAll()
    .where("variant_id", "in", [...variantIds])
    .execute();
  return new Map(rows.map((r) => [r.variant_id, toStock(r)]));
}

/**
 * Locks the stock rows of the given variants FOR UPDATE, always in variant id order, so two
 * transactions locking overlapping sets queue instead of deadlocking.
 */
export async function lockStocks(
  trx: Trx,
  variantIds: readonly string[],
): Promise<Map<string, Stock>> {
  if (variantIds.length === 0) return new Map();
  const rows = await trx
    .selectFrom("stock")
    .selectAll()
    .where("variant_id", "in", [...variantIds])
    .orderBy("variant_id")
    .forUpdate()
    .execute();
  return new Map(rows.map((r) => [r.variant_id, toStock(r)]));
}

/** Sets on_hand of a locked row (manual adjustment) and returns the row after it. */
export async function setOnHand(trx: Trx, variantId: string, onHand: number): Promise<Stock> {
  const row = await trx
    .updateTable("stock")
    .set({ on_hand: onHand, updated_at: sql`now()` })
    .where("variant_id", "=", variantId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return toStock(row);
}

/** Sets the low-stock threshold; undefined when the variant has no stock row. */
export async function setThreshold(
  db: Db,
  variantId: string,
  threshold: number,
): Promise<Stock | undefined> {
  const row = await db
    .updateTable("stock")
    .set({ low_stock_threshold: threshold, updated_at: sql`now()` })
    .where("variant_id", "=", variantId)
    .returningAll()
    .executeTakeFirst();
  return row && toStock(row);
}

/** A stock row to start tracking. */
export interface NewStock {
  variantId: string;
  productId: string | null;
  lowStockThreshold: number;
}

/** Inserts stock rows at zero for variants not tracked yet; returns the ones it created. */
export async function insertMissingStock(trx: Trx, rows: readonly NewStock[]): Promise<Stock[]> {
  if (rows.length === 0) return [];
  const inserted = await trx
    .insertInto("stock")
    .values(
      [...rows]
        .sort((a, b) => a.variantId.localeCompare(b.variantId))
        .map((r) => ({
          variant_id: r.variantId,
          product_id: r.productId,
          on_hand: 0,
          reserved: 0,
          committed: 0,
          low_stock_threshold: r.lowStockThreshold,
          discontinued_at: null,
        })),
    )
    .onConflict((oc) => oc.column("variant_id").doNothing())
    .returningAll()
    .execute();
  return inserted.map(toStock);
}

/** Marks variants discontinued: they keep their history but can no longer be reserved. */
export async function discontinueStock(trx: Trx, variantIds: readonly string[]): Promise<void> {
  if (variantIds.length === 0) return;
  await trx
    .updateTable("stock")
    .set({ discontinued_at: sql`coalesce(discontinued_at, now())`, updated_at: sql`now()` })
    .where("variant_id", "in", [...variantIds])
    .execute();
}

type ReservationRow = Selectable<ReservationTable> & { lines: Line[] | null };

function reservationQuery(db: Db) {
  return db
    .selectFrom("reservations as r")
    .selectAll("r")
    .select(
      sql<Line[]>`(SELECT coalesce(json_agg(json_build_object('variantId', l.variant_id,
      'quantity', l.quantity) ORDER BY l.variant_id), '[]') FROM reservation_lines l
      WHERE l.reservation_id = r.id)`.as("lines"),
    );
}

function toReservation(row: ReservationRow): Reservation {
  return {
    id: row.id,
    orderId: row.order_id,
    lines: row.lines ?? [],
    status: row.status,
    expiresAt: row.expires_at,
    shortages: row.shortages,
    releaseReason: row.release_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The order's reservation; `lock` takes its row FOR UPDATE (transitions). */
export async function findReservationByOrder(
  db: Db,
  orderId: string,
  lock = false,
): Promise<Reservation | undefined> {
  let query = reservationQuery(db).where("r.order_id", "=", orderId);
  if (lock) query = query.forUpdate("r");
  const row = await query.executeTakeFirst();
  return row && toReservation(row);
}

/** A reservation by id. */
export async function findReservation(db: Db, id: string): Promise<Reservation | undefined> {
  const row = await reservationQuery(db).where("r.id", "=", id).executeTakeFirst();
  return row && toReservation(row);
}

/** The stock rows of an order's lines, and whether the order already has a reservation. */
export async function findStocksForOrder(
  db: Db,
  orderId: string,
  variantIds: readonly string[],
): Promise<{ taken: boolean; stocks: Map<string, Stock> }> {
  const { rows } = await sql<{ taken: boolean } & Selectable<StockTable>>`
    SELECT t.taken, s.*
    FROM (SELECT EXISTS (SELECT 1 FROM reservations WHERE order_id = ${orderId}) AS taken) t
    LEFT JOIN stock s ON s.variant_id = ANY(${[...variantIds]}::uuid[])`.execute(db);
  return {
    taken: rows[0]?.taken ?? false,
    stocks: new Map(
      rows.filter((r) => r.variant_id !== null).map((r) => [r.variant_id, toStock(r)]),
    ),
  };
}

/**
 * The order's reservation for an event consumer, with whether `event` is already in the inbox
 * (applied before); undefined when the order has no reservation. `lock` takes the row FOR UPDATE.
 */
export async function findReservationForEvent(
  db: Db,
  orderId: string,
  event: InboxKey,
  lock = false,
): Promise<{ reservation: Reservation; handled: boolean } | undefined> {
  let query = reservationQuery(db)
    .select(sql<boolean>`NOT ${inboxOnce(event).unhandled}`.as("handled"))
    .where("r.order_id", "=", orderId);
  if (lock) query = query.forUpdate("r");
  const row = await query.executeTakeFirst();
  return row && { reservation: toReservation(row), handled: row.handled };
}

/**
 * Locks the order ids of up to `limit` RESERVED reservations past their expiry, skipping rows
 * another sweeper (or a commit) holds, so replicas can sweep side by side.
 */
export async function lockExpiredOrderIds(trx: Trx, now: Date, limit: number): Promise<string[]> {
  const rows = await trx
    .selectFrom("reservations")
    .select("order_id")
    .where("status", "=", "RESERVED")
    .where("expires_at", "<=", now)
    .orderBy("expires_at")
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  return rows.map((r) => r.order_id);
}

/** The adjustment recorded under an idempotency key, if any. */
export async function findAdjustmentByKey(
  db: Db,
  key: string,
): Promise<AdjustmentRecord | undefined> {
  const row = await db
    .selectFrom("adjustments")
    .selectAll()
    .where("idempotency_key", "=", key)
    .executeTakeFirst();
  return row && toAdjustment(row);
}

/** Appends an audit entry; false when the idempotency key was taken by a concurrent call. */
export async function insertAdjustment(
  trx: Trx,
  a: Omit<AdjustmentRecord, "createdAt">,
): Promise<AdjustmentRecord | undefined> {
  const row = await trx
    .insertInto("adjustments")
    .values({
      id: a.id,
      variant_id: a.variantId,
      delta: a.delta,
      on_hand_before: a.onHandBefore,
      on_hand_after: a.onHandAfter,
      reason: a.reason,
      note: a.note,
      actor_user_id: a.actorUserId,
      idempotency_key: a.idempotencyKey,
      // Set here, at millisecond precision, so a page cursor built from it compares exactly.
      created_at: new Date(),
    })
    .onConflict((oc) => oc.column("idempotency_key").doNothing())
    .returningAll()
    .executeTakeFirst();
  return row && toAdjustment(row);
}

/** Keyset position in the audit trail (newest first). */
export interface AdjustmentCursor {
  createdAt: Date;
  id: string;
}

/** One page of the audit trail, newest first; fetches one extra row to know if more follow. */
export async function listAdjustments(
  db: Db,
  filter: { variantId?: string; reason?: string; after?: AdjustmentCursor; limit: number },
): Promise<AdjustmentRecord[]> {
  let query = db.selectFrom("adjustments").selectAll();
  if (filter.variantId) query = query.where("variant_id", "=", filter.variantId);
  if (filter.reason) query = query.where("reason", "=", filter.reason);
  if (filter.after) {
    const { createdAt, id } = filter.after;
    query = query.where(sql<boolean>`(created_at, id) < (${createdAt}, ${id}::uuid)`);
  }
  const rows = await query
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .limit(filter.limit)
    .execute();
  return rows.map(toAdjustment);
}
