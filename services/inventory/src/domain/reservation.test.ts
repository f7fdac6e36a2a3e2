import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FailedPreconditionError } from "@shopmesh/platform/errors";
import {
  commit,
  fulfil,
  isExpired,
  newReservation,
  type Reservation,
  type ReservationStatus,
  release,
} from "./reservation.ts";

const now = new Date("2030-01-01T00:00:00Z");

function reservation(status: ReservationStatus): Reservation {
  const r = newReservation({
    id: "r1",
    orderId: "o1",
    lines: [{ variantId: "v1", quantity: 2 }],
    shortages: [],
    now,
    ttlMs: 60_000,
  });
  return { ...r, status };
}

describe("reservation transitions", () => {
  it("starts REJECTED when any line is short, RESERVED otherwise", () => {
    const base = { id: "r", orderId: "o", lines: [], now, ttlMs: 1000 };
    assert.equal(newReservation({ ...base, shortages: [] }).status, "RESERVED");
    const short = [{ variantId: "v", requested: 2, available: 1 }];
    assert.equal(newReservation({ ...base, shortages: short }).status, "REJECTED");
    assert.equal(
      newReservation({ ...base, shortages: [] }).expiresAt.getTime(),
      now.getTime() + 1000,
    );
  });

  it("releasing a RESERVED reservation gives back reserved units", () => {
    const t = release(reservation("RESERVED"), "PAYMENT_FAILED", now);
    assert.equal(t.changed, true);
    assert.equal(t.reservation.status, "RELEASED");
    assert.equal(t.reservation.releaseReason, "PAYMENT_FAILED");
    assert.deepEqual(t.effect, { onHand: 0, reserved: -1, committed: 0 });
  });

  it("releasing a COMMITTED reservation gives back committed units", () => {
    const t = release(reservation("COMMITTED"), "ORDER_CANCELLED", now);
    assert.equal(t.reservation.status, "RELEASED");
    assert.equal(t.previousStatus, "COMMITTED");
    assert.deepEqual(t.effect, { onHand: 0, reserved: 0, committed: -1 });
  });

  it("expiry turns RESERVED into EXPIRED and never touches COMMITTED", () => {
    assert.equal(release(reservation("RESERVED"), "EXPIRED", now).reservation.status, "EXPIRED");
    assert.equal(release(reservation("COMMITTED"), "EXPIRED", now).changed, false);
  });

  it("a repeated release is a no-op", () => {
    for (const status of ["RELEASED", "EXPIRED", "REJECTED"] as const) {
      const t = release(reservation(status), "ORDER_CANCELLED", now);
      assert.equal(t.changed, false, status);
      assert.equal(t.reservation.status, status);
    }
  });

  it("refuses to release shipped goods", () => {
    assert.throws(
      () => release(reservation("FULFILLED"), "ORDER_CANCELLED", now),
      FailedPreconditionError,
    );
  });

  it("commit moves reserved units to committed, once", () => {
    const t = commit(reservation("RESERVED"), now);
    assert.equal(t.reservation.status, "COMMITTED");
    assert.deepEqual(t.effect, { onHand: 0, reserved: -1, committed: 1 });
    assert.equal(commit(t.reservation, now).changed, false);
    assert.equal(commit(reservation("FULFILLED"), now).changed, false);
  });

  it("refuses to commit a hold that is gone", () => {
    for (const status of ["RELEASED", "EXPIRED", "REJECTED"] as const) {
      assert.throws(() => commit(reservation(status), now), FailedPreconditionError, status);
    }
  });

  it("fulfilment takes shipped units out of on_hand and committed", () => {
    const t = fulfil(reservation("COMMITTED"), now);
    assert.equal(t.reservation.status, "FULFILLED");
    assert.deepEqual(t.effect, { onHand: -1, reserved: 0, committed: -1 });
    assert.equal(fulfil(t.reservation, now).changed, false);
    assert.equal(fulfil(reservation("RELEASED"), now).changed, false);
  });

  it("only RESERVED reservations past expires_at are expired", () => {
    const later = new Date(now.getTime() + 60_000);
    assert.equal(isExpired(reservation("RESERVED"), later), true);
    assert.equal(isExpired(reservation("RESERVED"), now), false);
    assert.equal(isExpired(reservation("COMMITTED"), later), false);
  });
});
