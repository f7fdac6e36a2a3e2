import { NotFoundError } from "@shopmesh/platform/errors";
import type { NewEvent } from "@shopmesh/platform/event-envelope";
import { appendToOutbox } from "@shopmesh/platform/outbox";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import {
  commit,
  fulfil,
  newReservation,
  type ReleaseReason,
  type Reservation,
  release,
  type Transition,
} from "./domain/reservation.ts";
import { findShortages, type Line } from "./domain/stock.ts";
import {
  committedEvent,
  crossingEvents,
  releasedEvent,
  reservationOutcomeEvent,
} from "./events.ts";
import {
  applyStockDeltas,
  type Db,
  findReservationByOrder,
  insertReservation,
  lockExpiredOrderIds,
  lockStocks,
  type Trx,
  updateReservation,
} from "./store.ts";

/** What the reservation commands need. */
export interface ReservationDeps {
  db: Db;
  /** Hold time when ReserveStock names none. */
  defaultTtlMs: number;
  now?: () => Date;
}

/** Thrown inside a transaction to roll it back when a concurrent call reserved the order first. */
class LostRace extends Error {}

/**
 * The reservation lifecycle, shared by the gRPC handlers, the event consumers and the expiry
 * sweeper so every path runs the same code: load and lock, let the domain decide, save the
 * reservation, its stock counts and its events in one transaction.
 */
export function createReservationCommands(deps: ReservationDeps) {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());

  /** Saves a transition's status, stock effect and events. No-op transitions write nothing. */
  async function save(trx: Trx, t: Transition, eventsFor: (t: Transition) => NewEvent[]) {
    if (!t.changed) return;
    const r = t.reservation;
    const ids = r.lines.map((l) => l.variantId);
    const before = await lockStocks(trx, ids);
    const after = await applyStockDeltas(
      trx,
      r.lines.map((l) => ({
        variantId: l.variantId,
        onHand: t.effect.onHand * l.quantity,
        reserved: t.effect.reserved * l.quantity,
        committed: t.effect.committed * l.quantity,
      })),
    );
    await updateReservation(trx, r);
    await appendToOutbox(trx, [...eventsFor(t), ...crossingEvents(before, after)]);
  }

  /**
   * Holds every line for the order, or none. Idempotent per order id: a repeat (even a
   * concurrent one) returns the stored outcome and changes nothing.
   */
  async function reserveStock(
    orderId: string,
    lines: Line[],
    ttlMs?: number,
  ): Promise<Reservation> {
    const existing = await findReservationByOrder(db, orderId);
    if (existing) return existing;
    try {
      return await db.transaction().execute(async (trx) => {
        const sorted = [...lines].sort((a, b) => a.variantId.localeCompare(b.variantId));
        const before = await lockStocks(
          trx,
          sorted.map((l) => l.variantId),
        );
        const reservation = newReservation({
          id: uuidv7(),
          orderId,
          lines: sorted,
          shortages: findShortages(lines, before),
          now: now(),
          ttlMs: ttlMs ?? deps.defaultTtlMs,
        });
        if (!(await insertReservation(trx, reservation))) throw new LostRace();
        const transition: Transition = {
          reservation,
          changed: true,
          previousStatus: reservation.status,
          effect: { onHand: 0, reserved: 0, committed: 0 },
        };
        const events = [reservationOutcomeEvent(transition)];
        if (reservation.status === "RESERVED") {
          const after = await applyStockDeltas(
            trx,
            sorted.map((l) => ({
              variantId: l.variantId,
              onHand: 0,
              reserved: l.quantity,
              committed: 0,
            })),
          );
          events.push(...crossingEvents(before, after));
        }
        await appendToOutbox(trx, events);
        return reservation;
      });
    } catch (err) {
      if (!(err instanceof LostRace)) throw err;
      const winner = await findReservationByOrder(db, orderId);
      if (!winner) throw err;
      return winner;
    }
  }

  /**
   * Releases the order's stock inside `trx`; undefined when the order has none. With
   * `ignoreFulfilled`, a shipped order is left alone instead of refused (event consumers).
   */
  async function releaseIn(
    trx: Trx,
    orderId: string,
    reason: ReleaseReason,
    options: { ignoreFulfilled?: boolean } = {},
  ): Promise<Reservation | undefined> {
    const reservation = await findReservationByOrder(trx, orderId, true);
    if (!reservation) return undefined;
    if (options.ignoreFulfilled && reservation.status === "FULFILLED") return reservation;
    const t = release(reservation, reason, now());
    await save(trx, t, (x) => [releasedEvent(x)]);
    return t.reservation;
  }

  /** ReleaseReservation: returns held or committed stock; idempotent. */
  function releaseReservation(orderId: string, reason: ReleaseReason) {
    return db.transaction().execute((trx) => releaseIn(trx, orderId, reason));
  }

  /** CommitReservation: held stock becomes sold stock; NOT_FOUND for an order without one. */
  function commitReservation(orderId: string): Promise<Reservation> {
    return db.transaction().execute(async (trx) => {
      const reservation = await findReservationByOrder(trx, orderId, true);
      if (!reservation) throw new NotFoundError(`order ${orderId} has no stock reservation`);
      const t = commit(reservation, now());
      await save(trx, t, (x) => [committedEvent(x)]);
      return t.reservation;
    });
  }

  /** shipment.created: the order's units leave the warehouse. */
  async function fulfilIn(trx: Trx, orderId: string): Promise<Reservation | undefined> {
    const reservation = await findReservationByOrder(trx, orderId, true);
    if (!reservation) return undefined;
    const t = fulfil(reservation, now());
    // available does not change (on_hand and committed drop together); no event is defined.
    if (t.changed) await save(trx, t, () => []);
    return t.reservation;
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
        await releaseIn(trx, orderId, "EXPIRED");
        return true;
      });
      if (!done) break;
      expired++;
    }
    return expired;
  }

  return { reserveStock, releaseIn, releaseReservation, commitReservation, fulfilIn, expireDue };
}

/** The reservation commands. */
export type ReservationCommands = ReturnType<typeof createReservationCommands>;
