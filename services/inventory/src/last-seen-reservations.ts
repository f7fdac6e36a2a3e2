import { LRUCache } from "lru-cache";
import type { Reservation, ReservationStatus } from "./domain/reservation.ts";

/** The statuses a reservation can still leave; only these are worth remembering. */
const LIVE: ReadonlySet<ReservationStatus> = new Set(["RESERVED", "COMMITTED"]);

/**
 * The reservations this process last wrote or read, by order id, while they can still move
 * (RESERVED, COMMITTED), so a transition can decide and build its events without reading the
 * row first: CommitReservation after this process's ReserveStock is one statement.
 *
 * Why a remembered reservation can be trusted as far as the write goes: its id, order, lines,
 * expiry and creation time never change once inserted; every transition changes its status and
 * no status is ever entered twice (RESERVED -> COMMITTED -> FULFILLED, ...). So a row still in
 * the remembered status IS the remembered reservation, and the write starting from it checks
 * exactly that under the row lock (`saveTransitionWithOutbox`: id and previous status) and
 * writes nothing otherwise; the caller then reads the row, as it would without this. Another
 * replica's change, a restart or an eviction costs that read, never a wrong write or event.
 *
 * Ids are kept as Postgres prints uuids (lower case) and lines in its order, so a reservation
 * answered from here is the one a read would return. Bounded: past `limit`, the oldest go.
 */
export function createLastSeenReservations(limit: number) {
  const byOrder = new LRUCache<string, Reservation>({ max: limit });

  /** Takes the order's remembered reservation out (a transition will remember its outcome). */
  function take(orderId: string): Reservation | undefined {
    const key = orderId.toLowerCase();
    const found = byOrder.get(key);
    byOrder.delete(key);
    return found;
  }

  /** Remembers `r` as its row stands now; forgets the order when `r` can no longer move. */
  function remember(r: Reservation): void {
    const orderId = r.orderId.toLowerCase();
    byOrder.delete(orderId);
    if (!LIVE.has(r.status)) return;
    const lines = r.lines
      .map((l) => ({ variantId: l.variantId.toLowerCase(), quantity: l.quantity }))
      .sort((a, b) => (a.variantId < b.variantId ? -1 : a.variantId > b.variantId ? 1 : 0));
    byOrder.set(orderId, { ...r, id: r.id.toLowerCase(), orderId, lines });
  }

  /** Forgets the order's reservation (it moved where this process did not follow). */
  function forget(orderId: string): void {
    byOrder.delete(orderId.toLowerCase());
  }

  return { take, remember, forget };
}

/** What the reservation commands remember; see {@link createLastSeenReservations}. */
export type LastSeenReservations = ReturnType<typeof createLastSeenReservations>;
