import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ShipmentStatus as S,
  ServiceLevel,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { FailedPreconditionError } from "@shopmesh/platform/errors";
import { cancelShipment, canMove, moveShipment, nextOnPath, type Shipment } from "./shipment.ts";

const at = new Date("2030-01-01T00:00:00Z");
const shipment = (status: S): Shipment => ({
  id: "s1",
  orderId: "o1",
  userId: "u1",
  carrierCode: "mockship",
  carrierName: "MockShip",
  serviceLevel: ServiceLevel.STANDARD,
  trackingNumber: "MS00000000000",
  trackingUrl: "",
  status,
  address: {
    fullName: "",
    line1: "",
    line2: "",
    city: "",
    region: "",
    postalCode: "",
    countryCode: "US",
    phone: "",
  },
  weightGrams: 1,
  costCurrency: "USD",
  costMinor: 1n,
  estimatedDeliveryDate: "",
  createdAt: at,
  updatedAt: at,
});

test("the happy path advances one status at a time and stops at DELIVERED", () => {
  assert.equal(nextOnPath(S.LABEL_CREATED), S.PICKED_UP);
  assert.equal(nextOnPath(S.OUT_FOR_DELIVERY), S.DELIVERED);
  assert.equal(nextOnPath(S.DELIVERED), undefined);
  assert.equal(nextOnPath(S.EXCEPTION), undefined);
});

test("allowed moves follow the proto's state diagram", () => {
  assert.ok(canMove(S.LABEL_CREATED, S.PICKED_UP));
  assert.ok(canMove(S.IN_TRANSIT, S.DELIVERED));
  assert.ok(canMove(S.LABEL_CREATED, S.CANCELLED));
  assert.ok(canMove(S.IN_TRANSIT, S.EXCEPTION));
  assert.ok(canMove(S.EXCEPTION, S.RETURNED));
  assert.ok(!canMove(S.PICKED_UP, S.CANCELLED));
  assert.ok(!canMove(S.DELIVERED, S.IN_TRANSIT));
  assert.ok(!canMove(S.IN_TRANSIT, S.PICKED_UP));
  assert.ok(!canMove(S.LABEL_CREATED, S.RETURNED));
});

test("a move records the previous status and a described tracking entry", () => {
  const move = moveShipment(shipment(S.PICKED_UP), S.IN_TRANSIT, { location: "Memphis", at });
  assert.equal(move.previousStatus, S.PICKED_UP);
  assert.equal(move.shipment.status, S.IN_TRANSIT);
  assert.deepEqual(move.entry, {
    status: S.IN_TRANSIT,
    location: "Memphis",
    description: "In transit",
    occurredAt: at,
  });
  assert.throws(
    () => moveShipment(shipment(S.DELIVERED), S.IN_TRANSIT, { at }),
    FailedPreconditionError,
  );
});

test("cancelling works before pickup, is a no-op when cancelled, and fails after pickup", () => {
  assert.equal(
    cancelShipment(shipment(S.LABEL_CREATED), "changed my mind", at)?.shipment.status,
    S.CANCELLED,
  );
  assert.equal(cancelShipment(shipment(S.CANCELLED), "", at), undefined);
  assert.throws(() => cancelShipment(shipment(S.PICKED_UP), "", at), FailedPreconditionError);
});
