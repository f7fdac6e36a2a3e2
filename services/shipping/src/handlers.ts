import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { PostalAddressSchema } from "@shopmesh/gen/shopmesh/common/v1/address_pb.js";
import { MoneySchema } from "@shopmesh/gen/shopmesh/common/v1/money_pb.js";
import {
  type Shipment as ShipmentMessage,
  ShipmentSchema,
  type ShippingService,
  type TrackingEvent,
  TrackingEventSchema,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { requireAdmin, requireSelfOrAdmin, requireUser } from "@shopmesh/platform/auth";
import { NotFoundError } from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import type { ShippingDeps } from "./deps.ts";
import { rateOptions } from "./domain/rates.ts";
import type { Address, Shipment, TrackingEntry } from "./domain/shipment.ts";
import { advanceShipment, bookShipment, cancelOrderShipment } from "./shipments.ts";

const toEvent = (e: TrackingEntry): TrackingEvent =>
  create(TrackingEventSchema, {
    status: e.status,
    location: e.location,
    description: e.description,
    occurredAt: timestampFromDate(e.occurredAt),
  });

function toMessage(s: Shipment, history: readonly TrackingEntry[]): ShipmentMessage {
  return create(ShipmentSchema, {
    id: s.id,
    orderId: s.orderId,
    userId: s.userId,
    carrierCode: s.carrierCode,
    carrierName: s.carrierName,
    serviceLevel: s.serviceLevel,
    trackingNumber: s.trackingNumber,
    trackingUrl: s.trackingUrl,
    status: s.status,
    address: create(PostalAddressSchema, s.address),
    weightGrams: BigInt(s.weightGrams),
    cost: create(MoneySchema, { currencyCode: s.costCurrency, amountMinor: s.costMinor }),
    events: history.map(toEvent),
    estimatedDeliveryDate: s.estimatedDeliveryDate,
    createdAt: timestampFromDate(s.createdAt),
    updatedAt: timestampFromDate(s.updatedAt),
  });
}

/**
 * The ShippingService implementation: proto <-> use cases, plus authorization. Quote and Track
 * are public; shipment reads need the order's owner or an admin; AdvanceShipment needs an
 * admin; CreateShipment and CancelShipment are internal (the order saga, admitted by the mesh).
 */
export function createShippingHandlers(deps: ShippingDeps): ServiceImpl<typeof ShippingService> {
  const withHistory = async (s: Shipment) => toMessage(s, await deps.store.history(deps.db, s.id));

  return {
    quote(req) {
      const parcelGrams =
        req.parcels.length > 0
          ? req.parcels.map((p) => Number(p.weightGrams))
          : [Number(req.totalWeightGrams)];
      const options = rateOptions({
        originCountry: deps.originCountry,
        destinationCountry: req.destinationCountryCode,
        parcelGrams,
        currencyCode: req.currencyCode,
        level: req.serviceLevel,
      });
      return {
        options: options.map((o) => ({
          carrierCode: o.carrier.code,
          carrierName: o.carrier.name,
          serviceLevel: o.level,
          price: { currencyCode: o.currencyCode, amountMinor: o.priceMinor },
          estimatedDaysMin: o.daysMin,
          estimatedDaysMax: o.daysMax,
          zone: o.zone,
        })),
      };
    },

    async createShipment(req) {
      const a = req.address!;
      const address: Address = {
        fullName: a.fullName,
        line1: a.line1,
        line2: a.line2,
        city: a.city,
        region: a.region,
        postalCode: a.postalCode,
        countryCode: a.countryCode,
        phone: a.phone,
      };
      const { shipment, created } = await bookShipment(deps, {
        orderId: req.orderId,
        userId: req.userId,
        address,
        carrierCode: req.carrierCode,
        serviceLevel: req.serviceLevel,
        items: req.items.map((i) => ({
          productId: i.productId,
          variantId: i.variantId,
          quantity: i.quantity,
        })),
        weightGrams: Number(req.weightGrams),
      });
      return { shipment: await withHistory(shipment), created };
    },

    async getShipment(req, ctx) {
      requireUser(ctx);
      const shipment = await deps.store.find(deps.db, { id: req.shipmentId });
      if (!shipment) throw new NotFoundError(`shipment ${req.shipmentId} not found`);
      requireSelfOrAdmin(ctx, shipment.userId);
      return { shipment: await withHistory(shipment) };
    },

    async getShipmentByOrder(req, ctx) {
      requireUser(ctx);
      const shipment = await deps.store.find(deps.db, { orderId: req.orderId });
      if (!shipment) throw new NotFoundError(`order ${req.orderId} has no shipment yet`);
      requireSelfOrAdmin(ctx, shipment.userId);
      return { shipment: await withHistory(shipment) };
    },

    async track(req) {
      const shipment = await deps.store.find(deps.db, { trackingNumber: req.trackingNumber });
      if (!shipment) throw new NotFoundError(`tracking number ${req.trackingNumber} not found`);
      const history = await deps.store.history(deps.db, shipment.id);
      return {
        trackingNumber: shipment.trackingNumber,
        carrierName: shipment.carrierName,
        trackingUrl: shipment.trackingUrl,
        serviceLevel: shipment.serviceLevel,
        status: shipment.status,
        estimatedDeliveryDate: shipment.estimatedDeliveryDate,
        destination: `${shipment.address.city}, ${shipment.address.countryCode}`,
        events: history.map(toEvent),
      };
    },

    async cancelShipment(req) {
      const shipment = await cancelOrderShipment(deps, req.orderId, req.reason);
      return shipment ? { shipment: await withHistory(shipment) } : {};
    },

    async advanceShipment(req, ctx) {
      requireAdmin(ctx);
      const shipment = await advanceShipment(deps, req.shipmentId, req.status, {
        location: req.location,
        description: req.description,
      });
      return { shipment: await withHistory(shipment) };
    },
  };
}
