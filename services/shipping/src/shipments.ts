import {
  type ServiceLevel,
  ShipmentStatus,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import {
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from "@shopmesh/platform/errors";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { sql, type Transaction } from "kysely";
import type { ShippingDeps } from "./deps.ts";
import { addBusinessDays, carrierByCode, rateOptions } from "./domain/rates.ts";
import {
  type Address,
  cancelShipment,
  isTerminal,
  type Move,
  moveShipment,
  nextOnPath,
  type Shipment,
} from "./domain/shipment.ts";
import { newTrackingNumber } from "./domain/tracking-number.ts";
import { publish, shipmentCreatedEvent, statusUpdatedEvent } from "./events.ts";
import type { ShippingDatabase } from "./store.ts";

/** Grams assumed per unit when the caller gives no weight. */
const DEFAULT_UNIT_GRAMS = 500;

/** A validated CreateShipment request. */
export interface BookingInput {
  orderId: string;
  userId: string;
  address: Address;
  carrierCode: string;
  serviceLevel: ServiceLevel;
  items: readonly { productId: string; variantId: string; quantity: number }[];
  /** 0 estimates it from the items. */
  weightGrams: number;
}

/** Serialises everything that decides an order's shipment (booking and cancelling). */
async function lockOrder(trx: Transaction<ShippingDatabase>, orderId: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`shipping:${orderId}`}, 0))`.execute(
    trx,
  );
}

function nextAdvanceAt(deps: ShippingDeps, shipment: Shipment, from: Date): Date | null {
  if (deps.advanceIntervalMs <= 0 || nextOnPath(shipment.status) === undefined) return null;
  return new Date(from.getTime() + deps.advanceIntervalMs);
}

/**
 * Books the shipment of a paid order, once per order: a repeated call returns the booked
 * shipment with `created: false`. The carrier is the one asked for, or the cheapest for the
 * service level; the cost comes from the rate table. Refused for an order already compensated.
 */
export async function bookShipment(
  deps: ShippingDeps,
  input: BookingInput,
): Promise<{ shipment: Shipment; created: boolean }> {
  const weightGrams =
    input.weightGrams > 0
      ? input.weightGrams
      : input.items.reduce((sum, i) => sum + i.quantity * DEFAULT_UNIT_GRAMS, 0);
  const [option] = rateOptions({
    originCountry: deps.originCountry,
    destinationCountry: input.address.countryCode,
    parcelGrams: [weightGrams],
    currencyCode: deps.costCurrency,
    level: input.serviceLevel,
    ...(input.carrierCode ? { carrierCode: input.carrierCode } : {}),
  });
  if (!option) {
    if (input.carrierCode && !carrierByCode(input.carrierCode)) {
      throw new InvalidArgumentError("carrier_code", `unknown carrier ${input.carrierCode}`);
    }
    throw new FailedPreconditionError(
      `no carrier${input.carrierCode ? ` ${input.carrierCode}` : ""} offers that service level to ${input.address.countryCode}`,
    );
  }
  return deps.db.transaction().execute(async (trx) => {
    await lockOrder(trx, input.orderId);
    const existing = await deps.store.find(trx, { orderId: input.orderId });
    if (existing) return { shipment: existing, created: false };
    if (await deps.store.isOrderCancelled(trx, input.orderId)) {
      throw new FailedPreconditionError(
        `order ${input.orderId} was cancelled before its shipment was booked`,
      );
    }
    const now = new Date();
    const trackingNumber = newTrackingNumber(option.carrier.trackingPrefix);
    const shipment: Shipment = {
      id: uuidv7(),
      orderId: input.orderId,
      userId: input.userId,
      carrierCode: option.carrier.code,
      carrierName: option.carrier.name,
      serviceLevel: option.level,
      trackingNumber,
      trackingUrl: "",
      status: ShipmentStatus.LABEL_CREATED,
      address: input.address,
      weightGrams,
      costCurrency: option.currencyCode,
      costMinor: option.priceMinor,
      estimatedDeliveryDate: addBusinessDays(now, option.daysMax),
      createdAt: now,
      updatedAt: now,
    };
    await deps.store.insertIfAbsent(trx, shipment, input.items, nextAdvanceAt(deps, shipment, now));
    await deps.store.addTrackingEntry(trx, shipment.id, {
      status: ShipmentStatus.LABEL_CREATED,
      location: "",
      description: "Shipping label created",
      occurredAt: now,
    });
    const stored = (await deps.store.find(trx, { id: shipment.id }))!;
    await publish(trx, [shipmentCreatedEvent(stored)]);
    deps.logger.info(
      { shipmentId: stored.id, orderId: stored.orderId, trackingNumber },
      "shipment booked",
    );
    return { shipment: stored, created: true };
  });
}

/** Records a move: new status, tracking entry and shipment.status_updated, in the caller's transaction. */
async function applyMove(
  deps: ShippingDeps,
  trx: Transaction<ShippingDatabase>,
  move: Move,
): Promise<Shipment> {
  await deps.store.saveStatus(
    trx,
    move.shipment,
    isTerminal(move.shipment.status)
      ? null
      : nextAdvanceAt(deps, move.shipment, move.entry.occurredAt),
  );
  await deps.store.addTrackingEntry(trx, move.shipment.id, move.entry);
  await publish(trx, [statusUpdatedEvent(move)]);
  return move.shipment;
}

/**
 * Cancels an order's shipment before pickup (saga compensation). Idempotent; an order without a
 * shipment is remembered as cancelled so a late booking cannot ship it. Undefined when the order
 * had no shipment.
 */
export async function cancelOrderShipment(
  deps: ShippingDeps,
  orderId: string,
  reason: string,
): Promise<Shipment | undefined> {
  return deps.db.transaction().execute(async (trx) => {
    await lockOrder(trx, orderId);
    const shipment = await deps.store.find(trx, { orderId }, true);
    if (!shipment) {
      await deps.store.markOrderCancelled(trx, orderId, reason);
      return undefined;
    }
    const move = cancelShipment(shipment, reason, new Date());
    return move ? applyMove(deps, trx, move) : shipment;
  });
}

/** Moves a shipment by hand (operations, end-to-end tests). */
export async function advanceShipment(
  deps: ShippingDeps,
  shipmentId: string,
  to: ShipmentStatus,
  details: { location: string; description: string },
): Promise<Shipment> {
  return deps.db.transaction().execute(async (trx) => {
    const shipment = await deps.store.find(trx, { id: shipmentId }, true);
    if (!shipment) throw new NotFoundError(`shipment ${shipmentId} not found`);
    return applyMove(deps, trx, moveShipment(shipment, to, { ...details, at: new Date() }));
  });
}

/**
 * One round of the simulated carrier: moves every due shipment one step along the happy path.
 * Rows are locked with SKIP LOCKED, so instances running this together never move the same
 * shipment twice. Returns how many moved.
 */
export async function advanceDueShipments(deps: ShippingDeps, limit = 50): Promise<number> {
  return deps.db.transaction().execute(async (trx) => {
    const due = await deps.store.lockDue(trx, new Date(), limit);
    for (const shipment of due) {
      const next = nextOnPath(shipment.status);
      if (next === undefined) {
        await deps.store.saveStatus(trx, shipment, null);
        continue;
      }
      await applyMove(deps, trx, moveShipment(shipment, next, { location: "", at: new Date() }));
    }
    return due.length;
  });
}
