import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newReservation, type Reservation, release } from "./domain/reservation.ts";
import { createLastSeenReservations } from "./last-seen-reservations.ts";

const now = new Date("2030-01-01T00:00:00Z");

function reserved(
  orderId: string,
  variantIds: string[] = ["0190a000-0000-7000-8000-0000000000aa"],
) {
  return newReservation({
    id: "0190A000-0000-7000-8000-0000000000FF",
    orderId,
    lines: variantIds.map((variantId) => ({ variantId, quantity: 1 })),
    shortages: [],
    now,
    ttlMs: 60_000,
  });
}

describe("last-seen reservations", () => {
  it("hands a remembered reservation out once, whatever the case of the order id", () => {
    const seen = createLastSeenReservations(10);
    seen.remember(reserved("0190a000-0000-7000-8000-00000000000a"));
    assert.equal(seen.take("0190A000-0000-7000-8000-00000000000A")?.status, "RESERVED");
    assert.equal(seen.take("0190a000-0000-7000-8000-00000000000a"), undefined);
  });

  it("keeps ids in lower case and lines in the order Postgres returns them", () => {
    const seen = createLastSeenReservations(10);
    seen.remember(
      reserved("0190A000-0000-7000-8000-00000000000B", [
        "0190A000-0000-7000-8000-0000000000B1",
        "0190a000-0000-7000-8000-0000000000a1",
        "0190a000-0000-7000-8000-000000000091",
      ]),
    );
    const r = seen.take("0190a000-0000-7000-8000-00000000000b") as Reservation;
    assert.equal(r.id, "0190a000-0000-7000-8000-0000000000ff");
    assert.equal(r.orderId, "0190a000-0000-7000-8000-00000000000b");
    assert.deepEqual(
      r.lines.map((l) => l.variantId),
      [
        "0190a000-0000-7000-8000-000000000091",
        "0190a000-0000-7000-8000-0000000000a1",
        "0190a000-0000-7000-8000-0000000000b1",
      ],
    );
  });

  it("forgets a reservation that can no longer move, and on request", () => {
    const seen = createLastSeenReservations(10);
    const r = reserved("0190a000-0000-7000-8000-00000000000c");
    seen.remember(r);
    seen.remember(release(r, "PAYMENT_FAILED", now).reservation);
    assert.equal(seen.take(r.orderId), undefined);
    seen.remember(r);
    seen.forget(r.orderId);
    assert.equal(seen.take(r.orderId), undefined);
  });

  it("holds at most its limit, dropping the oldest first", () => {
    const seen = createLastSeenReservations(2);
    const ids = ["1", "2", "3"].map((n) => `0190a000-0000-7000-8000-00000000000${n}`);
    for (const id of ids) seen.remember(reserved(id));
    assert.equal(seen.take(ids[0]!), undefined);
    assert.ok(seen.take(ids[1]!));
    assert.ok(seen.take(ids[2]!));
  });
});
