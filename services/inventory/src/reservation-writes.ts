import type { DescMessage } from "@bufbuild/protobuf";
import type { NewEvent } from "@shopmesh/platform/event-envelope";
import { type InboxKey, inboxOnce } from "@shopmesh/platform/inbox";
import { changeWithOutbox } from "@shopmesh/platform/outbox";
import { type RawBuilder, sql } from "kysely";
import type { Reservation, Transition } from "./domain/reservation.ts";
import type { Stock } from "./domain/stock.ts";
import type { Db } from "./store.ts";

// The reservation writes of the store, each ONE statement (a data-modifying CTE chain ending in
// the outbox append): no BEGIN/COMMIT, atomic because a statement is its own transaction. The
// commands decide from what they read; these statements re-check, under the row locks, what
// the decision rested on and write nothing when it no longer holds, so the command decides
// again. Lock order is every writer's: a reservation row, then stock rows by variant id.

/**
 * The SQL twin of the domain's `crossesNoBoundary`: true when changing available by `delta`
 * from `available` cannot cross a low / out / back-in-stock boundary at `threshold`. Kept
 * next to the statements that guard on it; test/reservation-writes.test.ts holds the two together.
 */
export function crossesNoBoundarySql(
  available: RawBuilder<unknown>,
  delta: RawBuilder<unknown>,
  threshold: RawBuilder<unknown>,
): RawBuilder<boolean> {
  return sql<boolean>`(${delta} = 0 OR (${delta} < 0 AND ${available} + ${delta} > ${threshold})
    OR (${delta} > 0 AND ${available} > 0))`;
}

/**
 * What inserting a reservation requires of one line's stock row when the statement holds it
 * locked: `"clear"`, that the line can be held without crossing a stock-level boundary (so no
 * crossing event is missing); otherwise the row exactly as the caller read it (`null`: no row),
 * because the reservation's outcome and events were decided from those counts.
 */
export type StockExpectation = "clear" | Stock | null;

/**
 * Inserts a new reservation with its lines, holds its units when RESERVED, and appends its
 * events to the outbox, in ONE statement (no BEGIN/COMMIT): the stock rows are locked in
 * variant id order, and everything happens only if the order has no reservation yet and every
 * line's row is as `expected` (one expectation per line, in `r.lines` order). Returns false
 * when nothing was written: the order was reserved meanwhile (a repeat, or a concurrent
 * duplicate winning the unique key) or a row is not as expected. The CHECK constraints still
 * refuse an oversell, whatever the expectations say.
 */
export async function insertReservationWithOutbox(
  db: Db,
  r: Reservation,
  expected: readonly StockExpectation[],
  events: readonly NewEvent<DescMessage>[],
): Promise<boolean> {
  const read = (e: StockExpectation) => (e === "clear" ? null : e);
  const ids = r.lines.map((l) => l.variantId);
  const change = sql`
    wanted AS (
      SELECT * FROM unnest(
        ${ids}::uuid[], ${r.lines.map((l) => l.quantity)}::int[],
        ${expected.map((e) => e === "clear")}::boolean[], ${expected.map((e) => read(e) !== null)}::boolean[],
        ${expected.map((e) => read(e)?.onHand ?? null)}::int[],
        ${expected.map((e) => read(e)?.reserved ?? null)}::int[],
        ${expected.map((e) => read(e)?.committed ?? null)}::int[],
        ${expected.map((e) => read(e)?.lowStockThreshold ?? null)}::int[],
        ${expected.map((e) => read(e)?.discontinued ?? null)}::boolean[]
      ) AS w(variant_id, quantity, clear, present, on_hand, reserved, committed,
             low_stock_threshold, discontinued)),
    taken AS (SELECT 1 FROM reservations WHERE order_id = ${r.orderId}::uuid),
    locked AS (
      SELECT s.variant_id, s.on_hand, s.reserved, s.committed, s.low_stock_threshold,
             s.discontinued_at IS NOT NULL AS discontinued
      FROM stock s
      WHERE s.variant_id = ANY(${ids}::uuid[]) AND NOT EXISTS (SELECT 1 FROM taken)
      ORDER BY s.variant_id
      FOR UPDATE),
    as_expected AS (
      SELECT NOT EXISTS (SELECT 1 FROM taken) AND bool_and(coalesce(CASE
        WHEN w.clear THEN NOT l.discontinued AND ${crossesNoBoundarySql(
          sql`(l.on_hand - l.reserved - l.committed)`,
          sql`(-w.quantity)`,
          sql`l.low_stock_threshold`,
        )}
        ELSE (l.variant_id IS NOT NULL) = w.present AND (NOT w.present OR
          (l.on_hand, l.reserved, l.committed, l.low_stock_threshold, l.discontinued)
          = (w.on_hand, w.reserved, w.committed, w.low_stock_threshold, w.discontinued))
      END, false)) AS ok
      FROM wanted w LEFT JOIN locked l ON l.variant_id = w.variant_id),
    inserted AS (
      INSERT INTO reservations (id, order_id, status, expires_at, release_reason, shortages,
                                created_at, updated_at)
      SELECT ${r.id}::uuid, ${r.orderId}::uuid, ${r.status}::text, ${r.expiresAt}::timestamptz,
             ${r.releaseReason}::text, ${JSON.stringify(r.shortages)}::jsonb,
             ${r.createdAt}::timestamptz, ${r.updatedAt}::timestamptz
      WHERE (SELECT ok FROM as_expected)
      ON CONFLICT (order_id) DO NOTHING
      RETURNING id),
    lines_inserted AS (
      INSERT INTO reservation_lines (reservation_id, variant_id, quantity)
      SELECT inserted.id, w.variant_id, w.quantity FROM inserted, wanted w),
    units_held AS (
      UPDATE stock s SET reserved = s.reserved + w.quantity, updated_at = ${r.updatedAt}::timestamptz
      FROM inserted, wanted w JOIN locked l ON l.variant_id = w.variant_id
      WHERE s.variant_id = w.variant_id AND ${r.status === "RESERVED"}::boolean)`;
  const rows = await changeWithOutbox(
    db,
    { change, result: sql<{ id: string }>`SELECT id FROM inserted` },
    events,
  );
  return rows.length > 0;
}

/**
 * Saves a transition in ONE statement (no BEGIN/COMMIT): the reservation's new status, its
 * stock effect on every line, its events in the outbox and, for an event consumer, the
 * event's inbox row. Locks the reservation row, then the stock rows in variant id order (the
 * order every writer uses), and writes only if the reservation is still in the transition's
 * previous status and `event` is not in the inbox yet. With `onlyIfNoBoundaryCrossed`, it also
 * writes only if no line's change crosses a stock-level boundary (the caller then passes no
 * crossing events); without it, the caller holds the rows locked and passes the crossing events
 * it computed from them. Returns false when nothing was written.
 */
export async function saveTransitionWithOutbox(
  db: Db,
  t: Transition,
  events: readonly NewEvent<DescMessage>[],
  options: { onlyIfNoBoundaryCrossed: boolean; event?: InboxKey | undefined },
): Promise<boolean> {
  const r = t.reservation;
  const ids = r.lines.map((l) => l.variantId);
  const units = (perUnit: number) => r.lines.map((l) => perUnit * l.quantity);
  const inbox = options.event && inboxOnce(options.event);
  const guard = options.onlyIfNoBoundaryCrossed
    ? sql`coalesce(${crossesNoBoundarySql(
        sql`l.available`,
        sql`(d.on_hand - d.reserved - d.committed)`,
        sql`l.low_stock_threshold`,
      )}, false)`
    : sql`true`;
  const change = sql`
    reservation_locked AS (
      SELECT id FROM reservations
      WHERE id = ${r.id}::uuid AND status = ${t.previousStatus}::text
        ${inbox ? sql`AND ${inbox.unhandled}` : sql``}
      FOR UPDATE),
    effect AS (
      SELECT * FROM unnest(${ids}::uuid[], ${units(t.effect.onHand)}::int[],
                           ${units(t.effect.reserved)}::int[], ${units(t.effect.committed)}::int[])
        AS d(variant_id, on_hand, reserved, committed)),
    locked AS (
      SELECT s.variant_id, s.on_hand - s.reserved - s.committed AS available, s.low_stock_threshold
      FROM stock s
      WHERE s.variant_id = ANY(${ids}::uuid[]) AND EXISTS (SELECT 1 FROM reservation_locked)
      ORDER BY s.variant_id
      FOR UPDATE),
    as_expected AS (
      SELECT coalesce(bool_and(${guard}), true) AS ok
      FROM effect d LEFT JOIN locked l ON l.variant_id = d.variant_id),
    moved AS (
      UPDATE reservations r
      SET status = ${r.status}::text, release_reason = ${r.releaseReason}::text,
          updated_at = ${r.updatedAt}::timestamptz
      FROM reservation_locked
      WHERE r.id = reservation_locked.id AND (SELECT ok FROM as_expected)
      RETURNING r.id),
    stock_moved AS (
      UPDATE stock s SET
        on_hand = s.on_hand + d.on_hand,
        reserved = s.reserved + d.reserved,
        committed = s.committed + d.committed,
        updated_at = ${r.updatedAt}::timestamptz
      FROM moved, effect d JOIN locked l ON l.variant_id = d.variant_id
      WHERE s.variant_id = d.variant_id)
    ${inbox ? sql`, ${inbox.record("moved")}` : sql``}`;
  const rows = await changeWithOutbox(
    db,
    { change, result: sql<{ id: string }>`SELECT id FROM moved` },
    events,
  );
  return rows.length > 0;
}
