import {
  type ServiceLevel,
  ShipmentStatus,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { FailedPreconditionError } from "@shopmesh/platform/errors";

/** A delivery address, as copied from the order. */
export interface Address {
  fullName: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  countryCode: string;
  phone: string;
}

/** One entry of a shipment's tracking history. */
export interface TrackingEntry {
  status: ShipmentStatus;
  location: string;
  description: string;
  occurredAt: Date;
}

/** One order's delivery. */
export interface Shipment {
  id: string;
  orderId: string;
  userId: string;
  carrierCode: string;
  carrierName: string;
  serviceLevel: ServiceLevel;
  trackingNumber: string;
  trackingUrl: string;
  status: ShipmentStatus;
  address: Address;
  weightGrams: number;
  costCurrency: string;
  costMinor: bigint;
  estimatedDeliveryDate: string;
  createdAt: Date;
  updatedAt: Date;
}

/** The happy path a parcel travels, in order. */
export const FORWARD_PATH: readonly ShipmentStatus[] = [
  ShipmentStatus.LABEL_CREATED,
  ShipmentStatus.PICKED_UP,
  ShipmentStatus.IN_TRANSIT,
  ShipmentStatus.OUT_FOR_DELIVERY,
  ShipmentStatus.DELIVERED,
];

const IN_FLIGHT = [
  ShipmentStatus.PICKED_UP,
  ShipmentStatus.IN_TRANSIT,
  ShipmentStatus.OUT_FOR_DELIVERY,
];

const DESCRIPTIONS: Readonly<Record<number, string>> = {
  [ShipmentStatus.LABEL_CREATED]: "Shipping label created",
  [ShipmentStatus.PICKED_UP]: "Picked up by the carrier",
  [ShipmentStatus.IN_TRANSIT]: "In transit",
  [ShipmentStatus.OUT_FOR_DELIVERY]: "Out for delivery",
  [ShipmentStatus.DELIVERED]: "Delivered",
  [ShipmentStatus.EXCEPTION]: "Delivery exception",
  [ShipmentStatus.RETURNED]: "Returned to sender",
  [ShipmentStatus.CANCELLED]: "Shipment cancelled",
};

/** The default tracking description of a status. */
export function describeStatus(status: ShipmentStatus): string {
  return DESCRIPTIONS[status] ?? ShipmentStatus[status];
}

/** True for statuses a shipment never leaves. */
export function isTerminal(status: ShipmentStatus): boolean {
  return (
    status === ShipmentStatus.DELIVERED ||
    status === ShipmentStatus.RETURNED ||
    status === ShipmentStatus.CANCELLED
  );
}

/**
 * Whether a shipment may move from `from` to `to`: forward along the happy path (scans may be
 * skipped, as real carriers skip them), label-created to cancelled, any in-flight status to
 * exception, and from exception back in flight or to returned.
 */
export function canMove(from: ShipmentStatus, to: ShipmentStatus): boolean {
  const fromIndex = FORWARD_PATH.indexOf(from);
  const toIndex = FORWARD_PATH.indexOf(to);
  if (fromIndex >= 0 && toIndex > fromIndex) return true;
  if (from === ShipmentStatus.LABEL_CREATED) return to === ShipmentStatus.CANCELLED;
  if (IN_FLIGHT.includes(from)) return to === ShipmentStatus.EXCEPTION;
  if (from === ShipmentStatus.EXCEPTION) {
    return (
      IN_FLIGHT.includes(to) || to === ShipmentStatus.DELIVERED || to === ShipmentStatus.RETURNED
    );
  }
  return false;
}

/** The next status on the happy path, or undefined when the carrier has nothing more to do. */
export function nextOnPath(status: ShipmentStatus): ShipmentStatus | undefined {
  const index = FORWARD_PATH.indexOf(status);
  return index >= 0 ? FORWARD_PATH[index + 1] : undefined;
}

/** A status change: the shipment after it and the tracking entry recording it. */
export interface Move {
  shipment: Shipment;
  previousStatus: ShipmentStatus;
  entry: TrackingEntry;
}

/** Moves a shipment to `to`; FAILED_PRECONDITION when the move is not allowed. */
export function moveShipment(
  shipment: Shipment,
  to: ShipmentStatus,
  details: { location?: string; description?: string; at: Date },
): Move {
  if (!canMove(shipment.status, to)) {
    throw new FailedPreconditionError(
      `shipment ${shipment.id} cannot move from ${ShipmentStatus[shipment.status]} to ${ShipmentStatus[to]}`,
    );
  }
  return {
    previousStatus: shipment.status,
    shipment: { ...shipment, status: to, updatedAt: details.at },
    entry: {
      status: to,
      location: details.location ?? "",
      description: details.description || describeStatus(to),
      occurredAt: details.at,
    },
  };
}

/**
 * Cancels a shipment before pickup. Undefined when it is already cancelled (cancelling is
 * idempotent); FAILED_PRECONDITION once the carrier has the parcel.
 */
export function cancelShipment(shipment: Shipment, reason: string, at: Date): Move | undefined {
  if (shipment.status === ShipmentStatus.CANCELLED) return undefined;
  if (shipment.status !== ShipmentStatus.LABEL_CREATED) {
    throw new FailedPreconditionError(
      `shipment ${shipment.id} is ${ShipmentStatus[shipment.status]}; it can only be cancelled before pickup`,
    );
  }
  return moveShipment(shipment, ShipmentStatus.CANCELLED, {
    description: reason
      ? `Shipment cancelled: ${reason}`
      : describeStatus(ShipmentStatus.CANCELLED),
    at,
  });
}
