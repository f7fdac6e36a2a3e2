import { FailedPreconditionError } from "@shopmesh/platform/errors";
import type { Line, Shortage } from "./stock.ts";

/** Where a reservation stands (the proto's ReservationStatus without its prefix). */
export type ReservationStatus =
  | "RESERVED"
  | "REJECTED"
  | "RELEASED"
  | "EXPIRED"
  | "COMMITTED"
  | "FULFILLED";

/** Why a reservation was released (the proto's ReleaseReason without its prefix). */
export type ReleaseReason = "ORDER_CANCELLED" | "PAYMENT_FAILED" | "EXPIRED" | "SAGA_TIMEOUT";

/** Stock held (or refused) for one order. */
export interface Reservation {
  id: string;
  orderId: string;
  lines: Line[];
  status: ReservationStatus;
  expiresAt: Date;
  shortages: Shortage[];
  releaseReason: ReleaseReason | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * What a transition does to each line's stock row, per unit of the line's quantity; the store
 * multiplies it by the quantity. Zero everywhere means the transition touched no stock.
 */
export interface StockEffect {
  onHand: number;
  reserved: number;
  committed: number;
}

/** A transition's outcome: the reservation after it, and whether anything changed. */
export interface Transition {
  reservation: Reservation;
  /** False for an idempotent repeat: nothing to write, no event to publish. */
  changed: boolean;
  /** The status before the transition. */
  previousStatus: ReservationStatus;
  effect: StockEffect;
}

const NONE: StockEffect = { onHand: 0, reserved: 0, committed: 0 };

/** The transition that changes nothing: an idempotent repeat, or a state left alone. */
export function unchanged(reservation: Reservation): Transition {
  return { reservation, changed: false, previousStatus: reservation.status, effect: NONE };
}

function moved(
  reservation: Reservation,
  status: ReservationStatus,
  now: Date,
  effect: StockEffect,
  releaseReason: ReleaseReason | null = reservation.releaseReason,
): Transition {
  return {
    reservation: { ...reservation, status, releaseReason, updatedAt: now },
    changed: true,
    previousStatus: reservation.status,
    effect,
  };
}

/** The outcome of a reservation attempt: RESERVED, or REJECTED with the short lines. */
export function newReservation(input: {
  id: string;
  orderId: string;
  lines: Line[];
  shortages: Shortage[];
  now: Date;
  ttlMs: number;
}): Reservation {
  return {
    id: input.id,
    orderId: input.orderId,
    lines: input.lines,
    status: input.shortages.length > 0 ? "REJECTED" : "RESERVED",
    expiresAt: new Date(input.now.getTime() + input.ttlMs),
    shortages: input.shortages,
    releaseReason: null,
    createdAt: input.now,
    updatedAt: input.now,
  };
}

/**
 * Returns held or sold stock to available. Idempotent for reservations that hold nothing
 * (released, expired, rejected); refused once FULFILLED, since the goods have left.
 */
export function release(reservation: Reservation, reason: ReleaseReason, now: Date): Transition {
  const status = reason === "EXPIRED" ? "EXPIRED" : "RELEASED";
  switch (reservation.status) {
    case "RESERVED":
      return moved(reservation, status, now, { onHand: 0, reserved: -1, committed: 0 }, reason);
    case "COMMITTED":
      if (reason === "EXPIRED") return unchanged(reservation); // committed stock never expires
      return moved(reservation, status, now, { onHand: 0, reserved: 0, committed: -1 }, reason);
    case "RELEASED":
    case "EXPIRED":
    case "REJECTED":
      return unchanged(reservation);
    case "FULFILLED":
      throw new FailedPreconditionError(
        `reservation for order ${reservation.orderId} is FULFILLED: the goods have shipped and cannot be released`,
      );
  }
}

/**
 * Turns held stock into sold stock after payment. Idempotent for COMMITTED and FULFILLED;
 * refused when the hold is gone (released, expired) or never existed (rejected), because then
 * the units may already belong to another order and the saga must refund instead.
 */
export function commit(reservation: Reservation, now: Date): Transition {
  switch (reservation.status) {
    case "RESERVED":
      return moved(reservation, "COMMITTED", now, { onHand: 0, reserved: -1, committed: 1 });
    case "COMMITTED":
    case "FULFILLED":
      return unchanged(reservation);
    case "RELEASED":
    case "EXPIRED":
    case "REJECTED":
      throw new FailedPreconditionError(
        `reservation for order ${reservation.orderId} is ${reservation.status} and cannot be committed`,
      );
  }
}

/**
 * Records that the order shipped: its units leave on_hand and committed together, so available
 * is unchanged. A shipment of a still-RESERVED order (commit lost or late) ships the held units.
 * Any other state is left alone: the consumer must not fail forever on an event it cannot apply.
 */
export function fulfil(reservation: Reservation, now: Date): Transition {
  switch (reservation.status) {
    case "COMMITTED":
      return moved(reservation, "FULFILLED", now, { onHand: -1, reserved: 0, committed: -1 });
    case "RESERVED":
      return moved(reservation, "FULFILLED", now, { onHand: -1, reserved: -1, committed: 0 });
    default:
      return unchanged(reservation);
  }
}

/** True when a RESERVED reservation has passed its expiry. */
export function isExpired(reservation: Reservation, now: Date): boolean {
  return reservation.status === "RESERVED" && reservation.expiresAt.getTime() <= now.getTime();
}
