import type { NewEvent } from "@shopmesh/platform/event-envelope";
import { appendToOutbox } from "@shopmesh/platform/outbox";
import type { PlatformTables } from "@shopmesh/platform/platform-migrations";
import { type Generated, type Kysely, type Selectable, sql, type Transaction } from "kysely";
import { nextStepKind } from "./domain/next-step.ts";
import type {
  Cancellation,
  Order,
  OrderStatus,
  PaymentSummary,
  SagaState,
  ShipmentSummary,
  StatusChange,
} from "./domain/order.ts";
import type { Transition } from "./domain/transitions.ts";

/** The `orders` table. */
export interface OrdersTable {
  id: string;
  user_id: string;
  idempotency_key: string;
  request_hash: string;
  status: string;
  payment_state: string;
  currency_code: string;
  total_minor: string | number;
  items: string;
  shipping_address: string;
  service_level: number;
  carrier_code: string;
  totals: string;
  payment: string | null;
  shipment: string | null;
  cancellation: string | null;
  saga: string;
  payment_token: string | null;
  attempts: Generated<number>;
  next_attempt_at: Date | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}

/** The `order_status_history` table. */
export interface OrderStatusHistoryTable {
  id: Generated<string>;
  order_id: string;
  status: string;
  note: string;
  at: Date;
}

/** Every table of the order database. */
export interface OrderDatabase extends PlatformTables {
  orders: OrdersTable;
  order_status_history: OrderStatusHistoryTable;
}

/** The order database handle. */
export type OrderDb = Kysely<OrderDatabase>;

/** An order as the saga loads it: the aggregate plus the bookkeeping the domain does not see. */
export interface StoredOrder {
  order: Order;
  requestHash: string;
  /** Gateway token, kept only until the charge settles. */
  paymentToken: string | null;
  attempts: number;
}

/** How {@link OrderStore.apply} runs and schedules a change. */
export interface ApplyOptions {
  /** Run inside this transaction (a consumer's inbox transaction) instead of a new one. */
  trx?: Transaction<OrderDatabase>;
  /** Decides the next saga attempt: a Date, `null` (nothing due), or unchanged. */
  schedule?: (order: Order) => Date | null | undefined;
  /** Make the order due now if it has saga work and nothing is scheduled (events). */
  wake?: boolean;
  /** Load (and return) the full status history; the saga and consumers do not need it. */
  withHistory?: boolean;
}

/** Filters and page of a list query; pages are newest first, keyed by id (UUIDv7). */
export interface ListQuery {
  userId?: string;
  statuses?: readonly OrderStatus[];
  createdAfter?: Date;
  createdBefore?: Date;
  pageSize: number;
  /** Last id of the previous page. */
  afterId?: string;
}

const UNIQUE_VIOLATION = "23505";

/** Thrown by {@link OrderStore.insert} when (user_id, idempotency_key) already exists. */
export class DuplicateIdempotencyKeyError extends Error {
  constructor() {
    super("an order with this idempotency key already exists");
    this.name = "DuplicateIdempotencyKeyError";
  }
}

// JSONB holds dates as ISO strings; these bring them back as Date objects.
const date = (v: unknown) => (typeof v === "string" ? new Date(v) : undefined);
const reviveSaga = (s: Record<string, unknown>): SagaState => ({
  stepDeadlineAt: date(s.stepDeadlineAt),
  chargeAttempted: Boolean(s.chargeAttempted),
  stockReleased: Boolean(s.stockReleased),
  shipmentRequested: Boolean(s.shipmentRequested),
  shipmentCancelled: Boolean(s.shipmentCancelled),
  lateChargeChecked: Boolean(s.lateChargeChecked),
});
const reviveShipment = (s: Record<string, unknown> | null): ShipmentSummary | undefined =>
  s
    ? ({ ...s, shippedAt: date(s.shippedAt), deliveredAt: date(s.deliveredAt) } as ShipmentSummary)
    : undefined;
const reviveCancellation = (c: Record<string, unknown> | null): Cancellation | undefined =>
  c ? ({ ...c, cancelledAt: date(c.cancelledAt) } as Cancellation) : undefined;
const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
const parse = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : v);

function toOrder(row: Selectable<OrdersTable>, history: StatusChange[]): Order {
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status as OrderStatus,
    paymentState: row.payment_state as Order["paymentState"],
    items: parse(row.items),
    shippingAddress: parse(row.shipping_address),
    serviceLevel: row.service_level,
    carrierCode: row.carrier_code,
    currencyCode: row.currency_code,
    totals: parse(row.totals),
    payment: (parse(row.payment) ?? undefined) as PaymentSummary | undefined,
    shipment: reviveShipment(parse(row.shipment)),
    cancellation: reviveCancellation(parse(row.cancellation)),
    statusHistory: history,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    saga: reviveSaga(parse(row.saga)),
  };
}

function orderColumns(order: Order) {
  return {
    status: order.status,
    payment_state: order.paymentState,
    payment: json(order.payment),
    shipment: json(order.shipment),
    cancellation: json(order.cancellation),
    saga: JSON.stringify(order.saga),
    updated_at: order.updatedAt,
  };
}

/**
 * Creates the kysely queries of the order database. Every state change goes through
 * {@link OrderStore.apply}: the row is locked, the domain transition runs on the fresh state,
 * and the row, its new history entries and the transition's events (outbox) commit together.
 */
export function createOrderStore(
  db: OrderDb,
  toEvents: (order: Order, t: Transition) => NewEvent[],
) {
  async function historyOf(trx: Kysely<OrderDatabase>, ids: string[]) {
    const byOrder = new Map<string, StatusChange[]>();
    if (ids.length === 0) return byOrder;
    const rows = await trx
      .selectFrom("order_status_history")
      .select(["order_id", "status", "note", "at"])
      .where("order_id", "in", ids)
      .orderBy("id")
      .execute();
    for (const r of rows) {
      const list = byOrder.get(r.order_id) ?? [];
      list.push({ status: r.status as OrderStatus, note: r.note, at: r.at });
      byOrder.set(r.order_id, list);
    }
    return byOrder;
  }

  // Without history the order carries an empty statusHistory: transitions append to it and
  // writeHistory inserts exactly the new entries, so the saga skips reading history it never shows.
  async function load(
    trx: Kysely<OrderDatabase>,
    id: string,
    lock: boolean,
    withHistory = true,
  ): Promise<StoredOrder | undefined> {
    let query = trx.selectFrom("orders").selectAll().where("id", "=", id);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (!row) return undefined;
    const history = withHistory ? ((await historyOf(trx, [id])).get(id) ?? []) : [];
    return stored(row, history);
  }

  function stored(row: Selectable<OrdersTable>, history: StatusChange[]): StoredOrder {
    return {
      order: toOrder(row, history),
      requestHash: row.request_hash,
      paymentToken: row.payment_token,
      attempts: row.attempts,
    };
  }

  async function writeHistory(trx: Transaction<OrderDatabase>, order: Order, from: number) {
    const fresh = order.statusHistory.slice(from);
    if (fresh.length === 0) return;
    await trx
      .insertInto("order_status_history")
      .values(fresh.map((h) => ({ order_id: order.id, status: h.status, note: h.note, at: h.at })))
      .execute();
  }

  /**
   * Applies `change` to the locked, current state of an order and saves the result with its
   * events, in `options.trx` when given (a consumer's inbox transaction) or a new transaction.
   * Returns undefined when the order does not exist.
   */
  async function applyStored(
    id: string,
    change: (order: Order) => Transition,
    options: ApplyOptions = {},
  ): Promise<StoredOrder | undefined> {
    const run = async (trx: Transaction<OrderDatabase>): Promise<StoredOrder | undefined> => {
      const stored = await load(trx, id, true, options.withHistory ?? true);
      if (!stored) return undefined;
      const t = change(stored.order);
      const next = options.schedule?.(t.order);
      // The gateway token is needed only until the charge settles one way or the other.
      const clearToken =
        stored.paymentToken !== null &&
        t.order.status !== "PENDING" &&
        t.order.status !== "STOCK_RESERVED";
      const wake = options.wake && nextStepKind(t.order) !== "wait";
      const changed = t.order !== stored.order || next !== undefined || clearToken || wake;
      if (!changed) return stored;
      const update = trx
        .updateTable("orders")
        .set({
          ...orderColumns(t.order),
          ...(next !== undefined ? { next_attempt_at: next, attempts: 0, last_error: null } : {}),
          ...(clearToken ? { payment_token: null } : {}),
          ...(wake && next === undefined
            ? { next_attempt_at: sql<Date>`COALESCE(next_attempt_at, now())` }
            : {}),
        })
        .where("id", "=", id);
      const fresh = t.order.statusHistory.slice(stored.order.statusHistory.length);
      if (fresh.length === 0) {
        await update.execute();
      } else {
        // The row and its new history entries in one statement (one round trip, same effect).
        await trx
          .with("updated", () => update.returning("id"))
          .insertInto("order_status_history")
          .values(fresh.map((h) => ({ order_id: id, status: h.status, note: h.note, at: h.at })))
          .execute();
      }
      if (t.events.length > 0) await appendToOutbox(trx, toEvents(t.order, t));
      return {
        order: t.order,
        requestHash: stored.requestHash,
        paymentToken: clearToken ? null : stored.paymentToken,
        attempts: next !== undefined ? 0 : stored.attempts,
      };
    };
    return options.trx ? run(options.trx) : db.transaction().execute(run);
  }

  return {
    db,

    /** One order by id, or undefined; `withHistory: false` leaves statusHistory empty. */
    async get(
      id: string,
      options: { withHistory?: boolean } = {},
    ): Promise<StoredOrder | undefined> {
      return load(db, id, false, options.withHistory ?? true);
    },

    /** The order a user placed with an idempotency key, or undefined. */
    async findByIdempotencyKey(userId: string, key: string): Promise<StoredOrder | undefined> {
      const row = await db
        .selectFrom("orders")
        .select("id")
        .where("user_id", "=", userId)
        .where("idempotency_key", "=", key)
        .executeTakeFirst();
      return row ? load(db, row.id, false) : undefined;
    },

    /**
     * Inserts a newly placed order with its first history entry and its events, due for the
     * saga at once. Throws {@link DuplicateIdempotencyKeyError} when the key was taken meanwhile.
     */
    async insert(t: Transition, requestHash: string, paymentToken: string): Promise<void> {
      const { order } = t;
      try {
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto("orders")
            .values({
              id: order.id,
              user_id: order.userId,
              idempotency_key: order.idempotencyKey,
              request_hash: requestHash,
              currency_code: order.currencyCode,
              total_minor: order.totals.total.amountMinor,
              items: JSON.stringify(order.items),
              shipping_address: JSON.stringify(order.shippingAddress),
              service_level: order.serviceLevel,
              carrier_code: order.carrierCode,
              totals: JSON.stringify(order.totals),
              payment_token: paymentToken,
              next_attempt_at: order.createdAt,
              created_at: order.createdAt,
              ...orderColumns(order),
            })
            .execute();
          await writeHistory(trx, order, 0);
          await appendToOutbox(trx, toEvents(order, t));
        });
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION)
          throw new DuplicateIdempotencyKeyError();
        throw err;
      }
    },

    /**
     * Applies `change` to the locked, current state of an order and saves the result with its
     * events, in `trx` when given (a consumer's inbox transaction) or a new transaction.
     * `schedule` decides the next saga attempt: a Date, `null` (nothing due), or unchanged.
     * Returns undefined when the order does not exist.
     */
    async apply(
      id: string,
      change: (order: Order) => Transition,
      options: ApplyOptions = {},
    ): Promise<Order | undefined> {
      return (await applyStored(id, change, options))?.order;
    },

    /**
     * {@link OrderStore.apply} that returns the saved order with its bookkeeping (token,
     * attempts), so the saga can decide its next step without reading the row again.
     */
    applyStored,

    /** Records a failed attempt and when to try again. */
    async retryLater(id: string, at: Date, attempts: number, error: string): Promise<void> {
      await db
        .updateTable("orders")
        .set({ next_attempt_at: at, attempts, last_error: error.slice(0, 1000) })
        .where("id", "=", id)
        .execute();
    },

    /**
     * Claims up to `limit` orders whose next attempt is due, leasing them for `leaseMs`:
     * SKIP LOCKED lets several workers (or replicas) claim disjoint sets, and the lease makes
     * a crashed worker's orders due again once it passes.
     */
    async claimDue(limit: number, leaseMs: number): Promise<string[]> {
      const { rows } = await sql<{ id: string }>`
        UPDATE orders SET next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
        WHERE id IN (
          SELECT id FROM orders WHERE next_attempt_at <= now()
          ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING id`.execute(db);
      return rows.map((r) => r.id);
    },

    /**
     * Claims one order if it is due (after PlaceOrder or CancelOrder) and returns it as claimed
     * (without history), in one round trip; undefined if someone has it or nothing is due.
     */
    async claim(id: string, leaseMs: number): Promise<StoredOrder | undefined> {
      const { rows } = await sql<Selectable<OrdersTable>>`
        UPDATE orders SET next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
        WHERE id = ${id} AND next_attempt_at <= now()
        RETURNING *`.execute(db);
      const row = rows[0];
      return row ? stored(row, []) : undefined;
    },

    /** Whether this database holds the order (cheaper than loading it). */
    async exists(id: string): Promise<boolean> {
      const row = await db
        .selectFrom("orders")
        .select("id")
        .where("id", "=", id)
        .executeTakeFirst();
      return row !== undefined;
    },

    /** A page of orders, newest first, and the total matching the filters. */
    async list(q: ListQuery): Promise<{ orders: Order[]; total: number; more: boolean }> {
      let base = db.selectFrom("orders");
      if (q.userId) base = base.where("user_id", "=", q.userId);
      if (q.statuses && q.statuses.length > 0) base = base.where("status", "in", [...q.statuses]);
      if (q.createdAfter) base = base.where("created_at", ">=", q.createdAfter);
      if (q.createdBefore) base = base.where("created_at", "<", q.createdBefore);
      let page = base
        .selectAll()
        .orderBy("id", "desc")
        .limit(q.pageSize + 1);
      if (q.afterId) page = page.where("id", "<", q.afterId);
      const [rows, count] = await Promise.all([
        page.execute(),
        base.select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow(),
      ]);
      const more = rows.length > q.pageSize;
      const kept = rows.slice(0, q.pageSize);
      const history = await historyOf(
        db,
        kept.map((r) => r.id),
      );
      return {
        orders: kept.map((r) => toOrder(r, history.get(r.id) ?? [])),
        total: Number(count.n),
        more,
      };
    },
  };
}

/** The order store's interface, as handlers and the saga see it. */
export type OrderStore = ReturnType<typeof createOrderStore>;
