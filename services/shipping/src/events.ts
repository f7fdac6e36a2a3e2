import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { MoneySchema } from "@shopmesh/gen/shopmesh/common/v1/money_pb.js";
import {
  ShipmentCreatedSchema,
  ShipmentStatusUpdatedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/shipping_events_pb.js";
import type { NewEvent } from "@shopmesh/platform/event-envelope";
import { appendToOutbox } from "@shopmesh/platform/outbox";
import type { Transaction } from "kysely";
import type { Move, Shipment } from "./domain/shipment.ts";
import type { ShippingDatabase } from "./store.ts";

/** The topic every shipment event goes to, keyed by shipment id. */
export const SHIPMENTS_TOPIC = "shipments";

function base(shipment: Shipment, at: Date) {
  return {
    topic: SHIPMENTS_TOPIC,
    aggregateType: "shipment",
    aggregateId: shipment.id,
    producer: "shipping",
    occurredAt: at,
  };
}

/** shipment.created for a newly booked shipment. */
export function shipmentCreatedEvent(s: Shipment): NewEvent {
  return {
    ...base(s, s.createdAt),
    eventType: "shipment.created",
    payloadSchema: ShipmentCreatedSchema,
    payload: create(ShipmentCreatedSchema, {
      shipmentId: s.id,
      orderId: s.orderId,
      userId: s.userId,
      carrierCode: s.carrierCode,
      carrierName: s.carrierName,
      serviceLevel: s.serviceLevel,
      trackingNumber: s.trackingNumber,
      trackingUrl: s.trackingUrl,
      status: s.status,
      estimatedDeliveryDate: s.estimatedDeliveryDate,
      cost: create(MoneySchema, { currencyCode: s.costCurrency, amountMinor: s.costMinor }),
      createdAt: timestampFromDate(s.createdAt),
    }),
  };
}

/** shipment.status_updated for a status change. */
export function statusUpdatedEvent(move: Move): NewEvent {
  const s = move.shipment;
  return {
    ...base(s, move.entry.occurredAt),
    eventType: "shipment.status_updated",
    payloadSchema: ShipmentStatusUpdatedSchema,
    payload: create(ShipmentStatusUpdatedSchema, {
      shipmentId: s.id,
      orderId: s.orderId,
      userId: s.userId,
      carrierCode: s.carrierCode,
      trackingNumber: s.trackingNumber,
      previousStatus: move.previousStatus,
      status: s.status,
      location: move.entry.location,
      description: move.entry.description,
      at: timestampFromDate(move.entry.occurredAt),
      estimatedDeliveryDate: s.estimatedDeliveryDate,
    }),
  };
}

/** Appends events in the transaction that made the change they describe. */
export async function publish(
  trx: Transaction<ShippingDatabase>,
  events: readonly NewEvent[],
): Promise<void> {
  await appendToOutbox(trx, events);
}
