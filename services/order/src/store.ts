import type { NewEvent } from "@shopmesh/platform/event-envelope";
import { handleOnce, type InboxKey, inboxOnce } from "@shopmesh/platform/inbox";
import { changeWithOutbox } from "@shopmesh/platform/outbox";
import type { PlatformTables } from "@shopmesh/platform/platform-migrations";
import { type Generated, type Kysely, type Selectable, sql, type Transaction } from "kysely";
import { LRUCache } from "lru-cache";
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
  /**
   * The row version this state was read at (Postgres' `xmin`, which every update of the row
   * changes): an update guarded by it succeeds only if nobody changed the order since.
   */
  rowVersion: string;
  /** When the saga is next due (or its lease ends); null when only an event can move it. */
  nextAttemptAt: Date | null;
}

/** How {@link OrderStore.apply} runs and schedules a change. */
export interface ApplyOptions {
  /** Decides the next saga attempt: a Date, `null` (nothing due), or unchanged. */
  schedule?: (order: Order) => Date | null | undefined;
  /** Make the order due now if it has saga work and nothing is scheduled (events). */
  wake?: boolean;
  /** Load (and return) the full status history; the saga and consumers do not need it. */
  withHistory?: boolean;
  /**
   * The order as the caller last saw it (the saga's previous step), saving the read: the
   * change is applied to it first, and to a fresh read only if the row changed since.
   */
  known?: StoredOrder;
  /** Apply the change only if this event was not applied before, and record it. */
  once?: InboxKey;
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
// Races re-read and re-apply a change this many times before taking the row lock.
const OPTIMISTIC_ATTEMPTS = 3;
// Orders remembered as charged: far more than are in flight at once (a few MB at most).
const CHARGED_REMEMBERED = 50_000;

// The row's version (see StoredOrder.rowVersion), selected and returned with every read/write.
const rowVersion = sql<string>`xmin::text`.as("row_version");
type OrderRow = Selectable<OrdersTable> & { row_version: string };

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
  // Orders this process has seen charged (see chargeRecorded); bounded, oldest forgotten first.
  const charged = new LRUCache<string, true>({ max: CHARGED_REMEMBERED });
  const noteCharge = (order: Order) => {
    if (order.paymentState !== "NOT_CHARGED" && order.paymentState !== "FAILED")
      charged.set(order.id, true);
  };

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
  // save inserts exactly the new entries, so the saga skips reading history it never shows.
  async function load(
    trx: Kysely<OrderDatabase>,
    id: string,
    lock: boolean,
    withHistory = true,
  ): Promise<StoredOrder | undefined> {
    let query = trx.selectFrom("orders").selectAll().select(rowVersion).where("id", "=", id);
    if (lock) query = query.forUpdate();
    return storedWithHistory(trx, await query.executeTakeFirst(), withHistory);
  }

  async function storedWithHistory(
    trx: Kysely<OrderDatabase>,
    row: OrderRow | undefined,
    withHistory: boolean,
  ): Promise<StoredOrder | undefined> {
    if (!row) return undefined;
    const history = withHistory ? ((await historyOf(trx, [row.id])).get(row.id) ?? []) : [];
    return stored(row, history);
  }

  function stored(row: OrderRow, history: StatusChange[]): StoredOrder {
    const order = toOrder(row, history);
    noteCharge(order);
    return {
      order,
      requestHash: row.request_hash,
      paymentToken: row.payment_token,
      attempts: row.attempts,
      rowVersion: row.row_version,
      nextAttemptAt: row.next_attempt_at,
    };
  }

  /**
   * Applies `change` to the current state of an order and saves the result with its history
   * entries and events, optimistically: the state is `options.known` or a plain read, and the
   * save is one statement guarded by its row version. A save that finds the row changed
   * meanwhile (a cancel, an event, the saga) reads again and re-applies `change` to what it
   * finds; after a few such races it takes the row lock instead. `wrote` says whether this
   * call saved anything. Undefined when the order does not exist, or when `options.once`'s
   * event was applied before.
   */
  async function applyChange(
    id: string,
    change: (order: Order) => Transition,
    options: ApplyOptions,
  ): Promise<{ stored: StoredOrder; wrote: boolean } | undefined> {
    const withHistory = options.withHistory ?? true;
    const inbox = options.once && inboxOnce(options.once);
    let known = options.known;
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
      if (!known || attempt > 0) known = await load(db, id, false, withHistory);
      if (!known) return undefined;
      const p = plan(known, change, options);
      if (!p.changed) return { stored: known, wrote: false };
      try {
        const saved = await write(db, p, { version: known.rowVersion, inbox });
        if (saved) return { stored: saved, wrote: true };
      } catch (err) {
        if (inbox?.isDuplicate(err)) return undefined;
        throw err;
      }
    }
    const locked = async (trx: Transaction<OrderDatabase>) => {
      const current = await load(trx, id, true, withHistory);
      if (!current) return undefined;
      const p = plan(current, change, options);
      if (!p.changed) return { stored: current, wrote: false };
      return { stored: (await write(trx, p))!, wrote: true };
    };
    if (!options.once) return db.transaction().execute(locked);
    const handled = await handleOnce(db, options.once.consumer, options.once.eventId, locked);
    return handled.applied ? handled.result : undefined;
  }

  /** What applying `change` to `stored` writes: the new state, columns and history entries. */
  function plan(stored: StoredOrder, change: (order: Order) => Transition, options: ApplyOptions) {
    const t = change(stored.order);
    const next = options.schedule?.(t.order);
    // The gateway token is needed only until the charge settles one way or the other.
    const clearToken =
      stored.paymentToken !== null &&
      t.order.status !== "PENDING" &&
      t.order.status !== "STOCK_RESERVED";
    const wake = options.wake && stored.nextAttemptAt === null && nextStepKind(t.order) !== "wait";
    const changed = t.order !== stored.order || next !== undefined || clearToken || wake;
    const columns = {
      ...orderColumns(t.order),
      ...(next !== undefined ? { next_attempt_at: next, attempts: 0, last_error: null } : {}),
      ...(clearToken ? { payment_token: null } : {}),
      ...(wake && next === undefined ? { next_attempt_at: sql<Date>`now()` } : {}),
    };
    const history = t.order.statusHistory.slice(stored.order.statusHistory.length);
    const after = (rowVersion: string): StoredOrder => ({
      order: t.order,
      requestHash: stored.requestHash,
      paymentToken: clearToken ? null : stored.paymentToken,
      attempts: next !== undefined ? 0 : stored.attempts,
      rowVersion,
      nextAttemptAt: next !== undefined ? next : wake ? new Date() : stored.nextAttemptAt,
    });
    return { t, changed, columns, history, after };
  }
  type Plan = ReturnType<typeof plan>;

  /**
   * Saves a planned change in one statement: row, history entries, outbox events and, with
   * `guard.inbox`, the inbox record. With a `guard`, only if the row is still at
   * `guard.version` (and the event is new); undefined otherwise. Without one the caller holds
   * the row lock.
   */
  async function write(
    on: Kysely<OrderDatabase>,
    p: Plan,
    guard?: { version: string; inbox: ReturnType<typeof inboxOnce> | undefined },
  ): Promise<StoredOrder | undefined> {
    const { order } = p.t;
    let update = on.updateTable("orders").set(p.columns).where("id", "=", order.id);
    if (guard) update = update.where(sql`xmin`, "=", sql`${guard.version}::xid`);
    if (guard?.inbox) update = update.where(guard.inbox.unhandled);
    const ctes = [sql`updated AS (${update.returning(rowVersion)})`];
    if (p.history.length > 0) ctes.push(historyInsert(order.id, p.history));
    if (guard?.inbox) ctes.push(guard.inbox.record("updated"));
    const rows = await changeWithOutbox(
      on,
      {
        change: sql.join(ctes),
        result: sql<{ row_version: string }>`SELECT row_version FROM updated`,
      },
      p.t.events.length > 0 ? toEvents(order, p.t) : [],
    );
    if (!rows[0]) return undefined;
    // Inside a transaction the write may still roll back; a lone statement has committed.
    if (!on.isTransaction) noteCharge(order);
    return p.after(rows[0].row_version);
  }

  /** A CTE inserting status history entries, only if the `updated` CTE wrote the row. */
  function historyInsert(orderId: string, entries: readonly StatusChange[]) {
    return sql`history AS (
      INSERT INTO order_status_history (order_id, status, note, at)
      SELECT ${orderId}::uuid, h.status, h.note, h.at FROM updated, unnest(
        ${entries.map((h) => h.status)}::text[], ${entries.map((h) => h.note)}::text[],
        ${entries.map((h) => h.at.toISOString())}::timestamptz[]) WITH ORDINALITY AS h(status, note, at, ord)
      ORDER BY h.ord)`;
  }

  return {
    db,

    /** One order by id with its status history, or undefined. */
    async get(id: string): Promise<StoredOrder | undefined> {
      return load(db, id, false);
    },

    /** The order a user placed with an idempotency key, or undefined. */
    async findByIdempotencyKey(userId: string, key: string): Promise<StoredOrder | undefined> {
      const row = await db
        .selectFrom("orders")
        .selectAll()
        .select(rowVersion)
        .where("user_id", "=", userId)
        .where("idempotency_key", "=", key)
        .executeTakeFirst();
      return storedWithHistory(db, row, true);
    },

    /**
     * Inserts a newly placed order with its first history entry and its events, due for the
     * saga at once, or leased until `leaseUntil` to a worker that runs it (SagaWorker.admit).
     * Throws {@link DuplicateIdempotencyKeyError} when the key was taken meanwhile.
     */
    async insert(
      t: Transition,
      requestHash: string,
      paymentToken: string,
      leaseUntil?: Date,
    ): Promise<StoredOrder> {
      const { order } = t;
      const insert = db
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
          next_attempt_at: leaseUntil ?? order.createdAt,
          created_at: order.createdAt,
          ...orderColumns(order),
        })
        .onConflict((oc) => oc.columns(["user_id", "idempotency_key"]).doNothing())
        .returningAll()
        .returning(rowVersion);
      // Row, first history entry and order.placed in one statement; a key taken meanwhile
      // inserts nothing at all.
      const rows = await changeWithOutbox(
        db,
        {
          change: sql`updated AS (${insert}), ${historyInsert(order.id, order.statusHistory)}`,
          result: sql<OrderRow>`SELECT * FROM updated`,
        },
        toEvents(order, t),
      );
      if (!rows[0]) throw new DuplicateIdempotencyKeyError();
      return stored(rows[0], []);
    },

    /**
     * Applies `change` to the current state of an order and saves the result with its history
     * and events (see applyChange). `schedule` decides the next saga attempt: a Date, `null`
     * (nothing due), or unchanged. Returns the order as saved, undefined when it does not exist.
     */
    async apply(
      id: string,
      change: (order: Order) => Transition,
      options: ApplyOptions = {},
    ): Promise<Order | undefined> {
      return (await applyChange(id, change, options))?.stored.order;
    },

    /**
     * {@link OrderStore.apply} that returns the saved order with its bookkeeping (token,
     * attempts, row version), so the saga can decide and take its next step without a read.
     */
    async applyStored(
      id: string,
      change: (order: Order) => Transition,
      options: ApplyOptions = {},
    ): Promise<StoredOrder | undefined> {
      return (await applyChange(id, change, options))?.stored;
    },

    /**
     * Applies an event's change to an order at most once (inbox), making the order due if it
     * has saga work. Returns the order only when this call changed it.
     */
    async applyEvent(
      id: string,
      event: InboxKey,
      change: (order: Order) => Transition,
    ): Promise<Order | undefined> {
      const result = await applyChange(id, change, { once: event, wake: true, withHistory: false });
      return result?.wrote ? result.stored.order : undefined;
    },

    /**
     * Whether this process has read or saved the order with its charge recorded (CHARGED or
     * any later payment state). That never reverts, and recording a successful charge again is
     * then a no-op, so a payment.successful for it needs no read.
     */
    chargeRecorded(id: string): boolean {
      return charged.has(id);
    },

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
    async claimDue(limit: number, leaseMs: number): Promise<StoredOrder[]> {
      const { rows } = await sql<OrderRow>`
        UPDATE orders SET next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
        WHERE id IN (
          SELECT id FROM orders WHERE next_attempt_at <= now()
          ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING *, xmin::text AS row_version`.execute(db);
      return rows.map((r) => stored(r, []));
    },

    /**
     * Claims one order if it is due (after PlaceOrder or CancelOrder) and returns it as claimed
     * (without history), in one round trip; undefined if someone has it or nothing is due.
     */
    async claim(id: string, leaseMs: number): Promise<StoredOrder | undefined> {
      const { rows } = await sql<OrderRow>`
        UPDATE orders SET next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
        WHERE id = ${id} AND next_attempt_at <= now()
        RETURNING *, xmin::text AS row_version`.execute(db);
      const row = rows[0];
      return row ? stored(row, []) : undefined;
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
