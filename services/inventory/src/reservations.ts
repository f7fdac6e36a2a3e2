import type { DescMessage } from "@bufbuild/protobuf";
import { NotFoundError } from "@shopmesh/platform/errors";
import type { NewEvent } from "@shopmesh/platform/event-envelope";
import type { InboxKey } from "@shopmesh/platform/inbox";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import {
  commit,
  fulfil,
  newReservation,
  type ReleaseReason,
  type Reservation,
  release,
  type Transition,
  unchanged,
} from "./domain/reservation.ts";
import {
  crossesNoBoundary,
  findShortages,
  type Line,
  type Stock,
  withCounts,
} from "./domain/stock.ts";
import {
  committedEvent,
  crossingEvents,
  releasedEvent,
  reservationOutcomeEvent,
} from "./events.ts";
import { createLastSeenReservations } from "./last-seen-reservations.ts";
import {
  insertReservationWithOutbox,
  type StockExpectation,
  saveTransitionWithOutbox,
} from "./reservation-writes.ts";
import {
  type Db,
  findReservationByOrder,
  findReservationForEvent,
  findStocksForOrder,
  lockExpiredOrderIds,
  lockStocks,
  type Trx,
} from "./store.ts";

/** What the reservation commands need. */
export interface ReservationDeps {
  db: Db;
  /** Hold time when ReserveStock names none. */
  defaultTtlMs: number;
  now?: () => Date;
  /** How many live reservations to remember for one-statement transitions (default 10,000). */
  rememberedReservations?: number;
}

/** Thrown inside a transaction to roll it back when a concurrent call reserved the order first. */
class LostRace extends Error {}

/** A reservation not written yet: the decision, what it needs of the stock rows, its events. */
interface ReservationPlan {
  reservation: Reservation;
  expected: StockExpectation[];
  events: NewEvent<DescMessage>[];
}

/** A transition's decision for a reservation, e.g. `(r) => commit(r, now)`. */
type Decide = (reservation: Reservation) => Transition;

/**
 * The reservation lifecycle, shared by the gRPC handlers, the event consumers and the expiry
 * sweeper so every path runs the same code: read, let the domain decide, then write the
 * reservation, its stock counts and its events in one statement that checks under the row
 * locks that what the decision rested on still holds (else it writes nothing and the command
 * decides again, at worst in a transaction holding the locks).
 *
 * Round trips: a reservation away from any stock-level boundary is one statement; commit, a
 * release away from zero available and a fulfilment are one statement when this process wrote
 * or read the reservation last (see last-seen-reservations.ts), else a read and one statement;
 * a repeat or an event that changes nothing is a read (or, for ReserveStock, at most three
 * statements).
 */
export function createReservationCommands(deps: ReservationDeps) {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const lastSeen = createLastSeenReservations(deps.rememberedReservations ?? 10_000);

  /**
   * What reserving `lines` for the order means given `stocks` (the rows as read or locked):
   * RESERVED or REJECTED, with its outcome and crossing events. Without `stocks`, the hopeful
   * plan of the common case: every line held with room to spare, so no crossing event.
   */
  function planReservation(
    draft: { id: string; orderId: string; lines: Line[]; now: Date; ttlMs: number },
    stocks?: ReadonlyMap<string, Stock>,
  ): ReservationPlan {
    const reservation = newReservation({
      ...draft,
      shortages: stocks ? findShortages(draft.lines, stocks) : [],
    });
    const holds = reservation.status === "RESERVED";
    const expected = draft.lines.map((l): StockExpectation => {
      if (!stocks) return "clear";
      const row = stocks.get(l.variantId);
      // A held line clear of every boundary stays right under any counts still clear of them,
      // so a concurrent change to its row need not send this plan back.
      if (holds && row && !row.discontinued && crossesNoBoundary(row, -l.quantity)) return "clear";
      return row ?? null;
    });
    const events = [
      reservationOutcomeEvent({
        reservation,
        changed: true,
        previousStatus: reservation.status,
        effect: { onHand: 0, reserved: 0, committed: 0 },
      }),
    ];
    if (holds && stocks) {
      const after = new Map<string, Stock>();
      for (const l of draft.lines) {
        const row = stocks.get(l.variantId);
        if (row) {
          after.set(
            l.variantId,
            withCounts(row, { onHand: 0, reserved: l.quantity, committed: 0 }, draft.now),
          );
        }
      }
      events.push(...crossingEvents(stocks, after));
    }
    return { reservation, expected, events };
  }

  function insertPlanned(into: Db, plan: ReservationPlan): Promise<boolean> {
    return insertReservationWithOutbox(into, plan.reservation, plan.expected, plan.events);
  }

  async function storedReservation(orderId: string, cause: Error): Promise<Reservation> {
    const stored = await findReservationByOrder(db, orderId);
    if (!stored) throw cause;
    return stored;
  }

  /**
   * Holds every line for the order, or none. Idempotent per order id: a repeat (even a
   * concurrent one) returns the stored outcome and changes nothing.
   *
   * First the hopeful plan, unread: one statement. If the order already has a reservation or
   * a line is short or near a boundary, it writes nothing; then one read and a plan from it,
   * which the insert checks against the locked rows; only if those changed in between, the
   * plan is made again in a transaction holding the rows locked. A RESERVED outcome is
   * remembered, so the order's commit or release need not read it back.
   */
  async function reserveStock(
    orderId: string,
    lines: Line[],
    ttlMs?: number,
  ): Promise<Reservation> {
    const r = await reserve(orderId, lines, ttlMs);
    lastSeen.remember(r);
    return r;
  }

  async function reserve(orderId: string, lines: Line[], ttlMs?: number): Promise<Reservation> {
    const draft = {
      id: uuidv7(),
      orderId,
      lines: [...lines].sort((a, b) => a.variantId.localeCompare(b.variantId)),
      now: now(),
      ttlMs: ttlMs ?? deps.defaultTtlMs,
    };
    const hopeful = planReservation(draft);
    if (await insertPlanned(db, hopeful)) return hopeful.reservation;

    const ids = draft.lines.map((l) => l.variantId);
    const seen = await findStocksForOrder(db, orderId, ids);
    if (seen.taken) {
      return storedReservation(orderId, new Error(`order ${orderId}: reservation not readable`));
    }
    const informed = planReservation(draft, seen.stocks);
    if (await insertPlanned(db, informed)) return informed.reservation;

    try {
      return await db.transaction().execute(async (trx) => {
        const locked = planReservation(draft, await lockStocks(trx, ids));
        if (!(await insertPlanned(trx, locked))) throw new LostRace();
        return locked.reservation;
      });
    } catch (err) {
      if (!(err instanceof LostRace)) throw err;
      return storedReservation(orderId, err);
    }
  }

  /**
   * Runs `decide` on the reservation inside `trx`, holding its row and then its stock rows
   * locked, and saves the transition with its events and the crossing events the locked counts
   * give. Undefined when the order has none; `event` makes it a no-op for an event in the inbox.
   */
  async function transitionIn(
    trx: Trx,
    orderId: string,
    decide: Decide,
    eventsFor: (t: Transition) => NewEvent[],
    event?: InboxKey,
  ): Promise<Reservation | undefined> {
    const found = event
      ? await findReservationForEvent(trx, orderId, event, true)
      : await findReservationByOrder(trx, orderId, true).then(
          (reservation) => reservation && { reservation, handled: false },
        );
    if (!found || found.handled) return found?.reservation;
    const t = decide(found.reservation);
    if (!t.changed) return t.reservation;
    const r = t.reservation;
    const before = await lockStocks(
      trx,
      r.lines.map((l) => l.variantId),
    );
    const after = new Map<string, Stock>();
    for (const l of r.lines) {
      const row = before.get(l.variantId);
      if (!row) continue;
      const change = {
        onHand: t.effect.onHand * l.quantity,
        reserved: t.effect.reserved * l.quantity,
        committed: t.effect.committed * l.quantity,
      };
      after.set(l.variantId, withCounts(row, change, r.updatedAt));
    }
    const events = [...eventsFor(t), ...crossingEvents(before, after)];
    const saved = await saveTransitionWithOutbox(trx, t, events, {
      onlyIfNoBoundaryCrossed: false,
      event,
    });
    if (!saved) throw new Error(`reservation of order ${orderId} changed under its row lock`);
    return r;
  }

  /**
   * Applies `decide` to the order's reservation and remembers the outcome. When this process
   * remembers the reservation and `decide` changes it, that is one statement, saved unless the
   * row left the remembered status or a line's change would cross a stock-level boundary;
   * otherwise (and after such a miss) see {@link transitionFromRead}.
   */
  async function transition(
    orderId: string,
    decide: Decide,
    eventsFor: (t: Transition) => NewEvent[],
    event?: InboxKey,
  ): Promise<Reservation | undefined> {
    const known = lastSeen.take(orderId);
    const t = known && decideRemembered(known, decide);
    if (t?.changed) {
      const saved = await saveTransitionWithOutbox(db, t, eventsFor(t), {
        onlyIfNoBoundaryCrossed: true,
        event,
      });
      if (saved) {
        lastSeen.remember(t.reservation);
        return t.reservation;
      }
    }
    const r = await transitionFromRead(orderId, decide, eventsFor, event);
    if (r) lastSeen.remember(r);
    return r;
  }

  /**
   * `decide` on a remembered reservation; undefined if it refuses. A refusal or a no-op is
   * answered from a read instead, because only a write checks the remembered status.
   */
  function decideRemembered(known: Reservation, decide: Decide): Transition | undefined {
    try {
      return decide(known);
    } catch {
      return undefined;
    }
  }

  /**
   * Applies `decide` to the order's reservation as read: one read, then (if it changes
   * anything) one statement that saves it unless the reservation moved on meanwhile or a
   * line's change would cross a stock-level boundary. Then it decides again under the row
   * locks, in a transaction. A no-op (a repeat, an event already applied or not applicable)
   * costs the read alone and writes nothing. Undefined when the order has no reservation.
   */
  async function transitionFromRead(
    orderId: string,
    decide: Decide,
    eventsFor: (t: Transition) => NewEvent[],
    event?: InboxKey,
  ): Promise<Reservation | undefined> {
    const found = event
      ? await findReservationForEvent(db, orderId, event)
      : await findReservationByOrder(db, orderId).then(
          (reservation) => reservation && { reservation, handled: false },
        );
    if (!found || found.handled) return found?.reservation;
    const t = decide(found.reservation);
    if (!t.changed) return t.reservation;
    const saved = await saveTransitionWithOutbox(db, t, eventsFor(t), {
      onlyIfNoBoundaryCrossed: true,
      event,
    });
    if (saved) return t.reservation;
    return db.transaction().execute((trx) => transitionIn(trx, orderId, decide, eventsFor, event));
  }

  /** ReleaseReservation: returns held or committed stock; idempotent. */
  function releaseReservation(
    orderId: string,
    reason: ReleaseReason,
  ): Promise<Reservation | undefined> {
    return transition(
      orderId,
      (r) => release(r, reason, now()),
      (t) => [releasedEvent(t)],
    );
  }

  /**
   * order.cancelled: releases the order's stock once per event; a shipped order is left alone
   * (the consumer must not fail forever on an event it cannot apply).
   */
  function releaseForEvent(
    orderId: string,
    reason: ReleaseReason,
    event: InboxKey,
  ): Promise<Reservation | undefined> {
    return transition(
      orderId,
      (r) => (r.status === "FULFILLED" ? unchanged(r) : release(r, reason, now())),
      (t) => [releasedEvent(t)],
      event,
    );
  }

  /** CommitReservation: held stock becomes sold stock; NOT_FOUND for an order without one. */
  async function commitReservation(orderId: string): Promise<Reservation> {
    const r = await transition(
      orderId,
      (x) => commit(x, now()),
      (t) => [committedEvent(t)],
    );
    if (!r) throw new NotFoundError(`order ${orderId} has no stock reservation`);
    return r;
  }

  /**
   * shipment.created: the order's units leave the warehouse, once per event. Available does not
   * change (on_hand drops with reserved or committed), so there is no crossing and no event.
   */
  function fulfilForEvent(orderId: string, event: InboxKey): Promise<Reservation | undefined> {
    return transition(
      orderId,
      (r) => fulfil(r, now()),
      () => [],
      event,
    );
  }

  /**
   * Expires up to `limit` RESERVED reservations past expires_at, each in its own transaction,
   * and returns how many it expired. Rows a commit or another sweeper holds are skipped.
   */
  async function expireDue(limit = 100): Promise<number> {
    let expired = 0;
    for (let i = 0; i < limit; i++) {
      const done = await db.transaction().execute(async (trx) => {
        const [orderId] = await lockExpiredOrderIds(trx, now(), 1);
        if (!orderId) return false;
        lastSeen.forget(orderId);
        await transitionIn(
          trx,
          orderId,
          (r) => release(r, "EXPIRED", now()),
          (t) => [releasedEvent(t)],
        );
        return true;
      });
      if (!done) break;
      expired++;
    }
    return expired;
  }

  return {
    reserveStock,
    releaseReservation,
    releaseForEvent,
    commitReservation,
    fulfilForEvent,
    expireDue,
  };
}

/** The reservation commands. */
export type ReservationCommands = ReturnType<typeof createReservationCommands>;
