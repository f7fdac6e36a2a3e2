import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ShipmentStatusUpdatedSchema } from "@shopmesh/gen/shopmesh/events/v1/shipping_events_pb.js";
import { ServiceLevel, ShipmentStatus } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { decodeEnvelope, unpackPayload } from "@shopmesh/platform/event-envelope";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { startCarrierSimulation } from "../src/advancer.ts";
import { isWellFormedTrackingNumber } from "../src/domain/tracking-number.ts";
import { advanceDueShipments } from "../src/shipments.ts";
import { type ShippingHarness, startShippingHarness } from "./support/shipping-harness.ts";

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  const err = await promise.then(
    () => assert.fail("expected the call to fail"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
  return err;
}

const address = {
  fullName: "Grace Hopper",
  line1: "1 Navy Way",
  city: "Arlington",
  region: "VA",
  postalCode: "22201",
  countryCode: "US",
};

describe("ShippingService", { timeout: 55_000 }, () => {
  let h: ShippingHarness;
  const owner = uuidv7();

  const book = (orderId = uuidv7(), patch: Record<string, unknown> = {}) =>
    h.client.createShipment({
      orderId,
      userId: owner,
      address,
      serviceLevel: ServiceLevel.STANDARD,
      items: [{ productId: uuidv7(), quantity: 2 }],
      weightGrams: 1200n,
      ...patch,
    });

  const outbox = async (shipmentId: string) =>
    h.app.deps.db
      .selectFrom("outbox")
      .select(["event_type", "envelope"])
      .where("aggregate_id", "=", shipmentId)
      .orderBy("id")
      .execute();

  before(async () => {
    h = await startShippingHarness();
  });
  after(async () => {
    await h?.stop();
  });

  test("quotes every carrier and level for a domestic parcel, cheapest first, from the rate table", async () => {
    const { options } = await h.client.quote({
      destinationCountryCode: "US",
      totalWeightGrams: 1200n,
      currencyCode: "USD",
    });
    assert.deepEqual(
      options.map((o) => [
        o.carrierCode,
        ServiceLevel[o.serviceLevel],
        o.price?.amountMinor,
        o.zone,
      ]),
      [
        ["parcelpost", "STANDARD", 759n, "domestic"],
        ["mockship", "STANDARD", 799n, "domestic"],
        ["mockship", "EXPRESS", 1499n, "domestic"],
        ["swiftair", "EXPRESS", 1499n, "domestic"],
        ["parcelpost", "EXPRESS", 1639n, "domestic"],
        ["swiftair", "OVERNIGHT", 2699n, "domestic"],
        ["mockship", "OVERNIGHT", 2799n, "domestic"],
      ],
    );
  });

  test("regional and international zones cost more, and international has no overnight", async () => {
    const quote = (country: string, extra: Record<string, unknown> = {}) =>
      h.client.quote({
        destinationCountryCode: country,
        totalWeightGrams: 1200n,
        currencyCode: "USD",
        serviceLevel: ServiceLevel.STANDARD,
        ...extra,
      });
    const ca = await quote("CA");
    assert.equal(ca.options[0]?.zone, "regional");
    assert.equal(ca.options[0]?.price?.amountMinor, 1139n);
    const de = await quote("DE");
    assert.equal(de.options[0]?.zone, "international");
    assert.equal(de.options[0]?.price?.amountMinor, 1898n);
    const overnight = await quote("DE", { serviceLevel: ServiceLevel.OVERNIGHT });
    assert.equal(overnight.options.length, 0);
    const eur = await quote("US", { currencyCode: "EUR" });
    assert.equal(eur.options[0]?.price?.currencyCode, "EUR");
    assert.equal(eur.options[0]?.price?.amountMinor, 698n);
  });

  test("parcels are priced one by one by started kilogram and summed", async () => {
    const { options } = await h.client.quote({
      destinationCountryCode: "US",
      parcels: [{ weightGrams: 1200n }, { weightGrams: 300n }],
      currencyCode: "USD",
      serviceLevel: ServiceLevel.STANDARD,
    });
    assert.equal(options[0]?.price?.amountMinor, 759n + 579n);
  });

  test("bad quote input is INVALID_ARGUMENT naming the field", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { destinationCountryCode: "usa", totalWeightGrams: 100n, currencyCode: "USD" },
        /destination_country_code/,
      ],
      [
        { destinationCountryCode: "US", totalWeightGrams: 100n, currencyCode: "JPY" },
        /currency_code/,
      ],
      [
        { destinationCountryCode: "US", totalWeightGrams: -5n, currencyCode: "USD" },
        /total_weight_grams/,
      ],
      [{ destinationCountryCode: "US", currencyCode: "USD" }, /total_weight_grams|parcels/],
    ];
    for (const [request, field] of cases) {
      const err = await rejection(h.client.quote(request));
      assert.equal(err.code, Code.INVALID_ARGUMENT);
      assert.match(err.message, field);
    }
  });

  test("CreateShipment books once per order with a check-digit tracking number and one shipment.created", async () => {
    const orderId = uuidv7();
    const first = await book(orderId);
    assert.equal(first.created, true);
    const s = first.shipment!;
    assert.equal(s.status, ShipmentStatus.LABEL_CREATED);
    assert.equal(s.carrierCode, "parcelpost");
    assert.equal(s.cost?.amountMinor, 759n);
    assert.ok(isWellFormedTrackingNumber(s.trackingNumber), s.trackingNumber);
    assert.ok(s.trackingNumber.startsWith("PP"));
    assert.match(s.estimatedDeliveryDate, /^\d{4}-\d{2}-\d{2}$/);
    const again = await book(orderId);
    assert.equal(again.created, false);
    assert.equal(again.shipment?.id, s.id);
    assert.deepEqual(
      (await outbox(s.id)).map((r) => r.event_type),
      ["shipment.created"],
    );
    const concurrent = await Promise.all(Array.from({ length: 5 }, () => book()));
    assert.equal(new Set(concurrent.map((c) => c.shipment?.id)).size, 5);
  });

  test("the simulated carrier advances a shipment to DELIVERED, emitting each status in order", async () => {
    const { shipment } = await book();
    await h.app.deps.db
      .updateTable("shipments")
      .set({ next_advance_at: new Date() })
      .where("id", "=", shipment!.id)
      .execute();
    const stop = startCarrierSimulation({ ...h.app.deps, advanceIntervalMs: 100 });
    try {
      const deadline = Date.now() + 10_000;
      let status = ShipmentStatus.LABEL_CREATED;
      while (status !== ShipmentStatus.DELIVERED && Date.now() < deadline) {
        await sleep(100);
        status = (await h.client.track({ trackingNumber: shipment!.trackingNumber })).status;
      }
      assert.equal(status, ShipmentStatus.DELIVERED);
    } finally {
      await stop();
    }
    const rows = await outbox(shipment!.id);
    assert.deepEqual(
      rows.map((r) => r.event_type),
      ["shipment.created", ...Array(4).fill("shipment.status_updated")],
    );
    const moves = rows
      .slice(1)
      .map((r) => unpackPayload(decodeEnvelope(r.envelope), ShipmentStatusUpdatedSchema))
      .map((e) => [ShipmentStatus[e.previousStatus], ShipmentStatus[e.status]]);
    assert.deepEqual(moves, [
      ["LABEL_CREATED", "PICKED_UP"],
      ["PICKED_UP", "IN_TRANSIT"],
      ["IN_TRANSIT", "OUT_FOR_DELIVERY"],
      ["OUT_FOR_DELIVERY", "DELIVERED"],
    ]);
    const tracked = await h.client.track({ trackingNumber: shipment!.trackingNumber });
    assert.deepEqual(
      tracked.events.map((e) => ShipmentStatus[e.status]),
      ["LABEL_CREATED", "PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"],
    );
  });

  test("two carrier instances running together move each due shipment exactly one step", async () => {
    const booked = await Promise.all(Array.from({ length: 10 }, () => book()));
    const ids = booked.map((b) => b.shipment!.id);
    await h.app.deps.db
      .updateTable("shipments")
      .set({ next_advance_at: new Date(Date.now() - 1000) })
      .where("id", "in", ids)
      .execute();
    const deps = { ...h.app.deps, advanceIntervalMs: 60_000 };
    const moved = await Promise.all([
      advanceDueShipments(deps, 4),
      advanceDueShipments(deps, 4),
      advanceDueShipments(deps, 4),
    ]);
    assert.ok(moved.reduce((a, b) => a + b, 0) <= 10);
    while ((await advanceDueShipments(deps)) > 0) {}
    const events = await h.app.deps.db
      .selectFrom("tracking_events")
      .select(["shipment_id", "status"])
      .where("shipment_id", "in", ids)
      .where("status", "=", ShipmentStatus.PICKED_UP)
      .execute();
    assert.equal(events.length, 10);
    assert.equal(new Set(events.map((e) => e.shipment_id)).size, 10);
  });

  test("cancel before pickup succeeds and is idempotent; after pickup it is FAILED_PRECONDITION", async () => {
    const early = (await book()).shipment!;
    const cancelled = await h.client.cancelShipment({
      orderId: early.orderId,
      reason: "order cancelled",
    });
    assert.equal(cancelled.shipment?.status, ShipmentStatus.CANCELLED);
    const again = await h.client.cancelShipment({ orderId: early.orderId });
    assert.equal(again.shipment?.status, ShipmentStatus.CANCELLED);
    assert.deepEqual(
      (await outbox(early.id)).map((r) => r.event_type),
      ["shipment.created", "shipment.status_updated"],
    );

    const late = (await book()).shipment!;
    const admin = await h.issuer.as(uuidv7(), { admin: true });
    await h.client.advanceShipment(
      { shipmentId: late.id, status: ShipmentStatus.PICKED_UP, location: "Memphis, TN, US" },
      { metadata: admin },
    );
    const err = await rejection(h.client.cancelShipment({ orderId: late.orderId }));
    assert.equal(err.code, Code.FAILED_PRECONDITION);
  });

  test("cancelling an order without a shipment succeeds empty and blocks a late booking", async () => {
    const orderId = uuidv7();
    const res = await h.client.cancelShipment({ orderId, reason: "payment declined" });
    assert.equal(res.shipment, undefined);
    const err = await rejection(book(orderId));
    assert.equal(err.code, Code.FAILED_PRECONDITION);
  });

  test("reads: owner and admin see the shipment, others get PERMISSION_DENIED; Track is public and hides the address", async () => {
    const s = (await book()).shipment!;
    const mine = await h.client.getShipmentByOrder(
      { orderId: s.orderId },
      { metadata: await h.issuer.as(owner) },
    );
    assert.equal(mine.shipment?.id, s.id);
    assert.equal(mine.shipment?.events.length, 1);
    const admin = await h.client.getShipment(
      { shipmentId: s.id },
      { metadata: await h.issuer.as(uuidv7(), { admin: true }) },
    );
    assert.equal(admin.shipment?.address?.line1, address.line1);
    const stranger = await h.issuer.as(uuidv7());
    const denied = [
      () => h.client.getShipment({ shipmentId: s.id }, { metadata: stranger }),
      () => h.client.getShipmentByOrder({ orderId: s.orderId }, { metadata: stranger }),
    ];
    for (const call of denied) assert.equal((await rejection(call())).code, Code.PERMISSION_DENIED);
    assert.equal(
      (await rejection(h.client.getShipment({ shipmentId: s.id }))).code,
      Code.UNAUTHENTICATED,
    );
    const tracked = await h.client.track({ trackingNumber: s.trackingNumber });
    assert.equal(tracked.destination, "Arlington, US");
    assert.doesNotMatch(
      JSON.stringify(tracked, (_k, v) => (typeof v === "bigint" ? String(v) : v)),
      /Navy Way|Grace/,
    );
    assert.equal(
      (await rejection(h.client.track({ trackingNumber: "PP00000000000" }))).code,
      Code.NOT_FOUND,
    );
  });

  test("AdvanceShipment needs an admin, refuses disallowed moves and validates the status", async () => {
    const s = (await book()).shipment!;
    const customer = await h.issuer.as(owner);
    const admin = await h.issuer.as(uuidv7(), { admin: true });
    const denied = await rejection(
      h.client.advanceShipment(
        { shipmentId: s.id, status: ShipmentStatus.PICKED_UP },
        { metadata: customer },
      ),
    );
    assert.equal(denied.code, Code.PERMISSION_DENIED);
    const illegal = await rejection(
      h.client.advanceShipment(
        { shipmentId: s.id, status: ShipmentStatus.RETURNED },
        { metadata: admin },
      ),
    );
    assert.equal(illegal.code, Code.FAILED_PRECONDITION);
    const invalid = await rejection(
      h.client.advanceShipment(
        { shipmentId: s.id, status: ShipmentStatus.CANCELLED },
        { metadata: admin },
      ),
    );
    assert.equal(invalid.code, Code.INVALID_ARGUMENT);
    assert.match(invalid.message, /status/);
    await h.client.advanceShipment(
      { shipmentId: s.id, status: ShipmentStatus.IN_TRANSIT },
      { metadata: admin },
    );
    const moved = await h.client.advanceShipment(
      { shipmentId: s.id, status: ShipmentStatus.EXCEPTION, description: "Address not found" },
      { metadata: admin },
    );
    assert.equal(moved.shipment?.status, ShipmentStatus.EXCEPTION);
    assert.equal(moved.shipment?.events.at(-1)?.description, "Address not found");
  });

  test("bad CreateShipment input is INVALID_ARGUMENT naming the field", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ orderId: "nope" }, /order_id/],
      [{ items: [] }, /items/],
      [{ serviceLevel: ServiceLevel.UNSPECIFIED }, /service_level/],
      [{ carrierCode: "fedex" }, /carrier_code/],
      [{ address: { ...address, countryCode: "" } }, /address.country_code/],
    ];
    for (const [patch, field] of cases) {
      const err = await rejection(book(uuidv7(), patch));
      assert.equal(err.code, Code.INVALID_ARGUMENT, String(field));
      assert.match(err.message, field);
    }
  });
});
