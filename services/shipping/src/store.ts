import type {
  ServiceLevel,
  ShipmentStatus,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import type { PlatformTables } from "@shopmesh/platform/platform-migrations";
import type { Generated, Kysely, Selectable, Transaction } from "kysely";
import type { Address, Shipment, TrackingEntry } from "./domain/shipment.ts";

/** One order's shipment. bigint columns come back from pg as strings. */
export interface ShipmentsTable {
  id: string;
  order_id: string;
  user_id: string;
  carrier_code: string;
  service_level: number;
  tracking_number: string;
  status: number;
  address: Address;
  items: unknown;
  weight_grams: string;
  cost_currency: string;
  cost_minor: string;
  estimated_delivery_date: string;
  /** When the background carrier moves it next; null when it is not moved automatically. */
  next_advance_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** One tracking history entry. */
export interface TrackingEventsTable {
  id: Generated<string>;
  shipment_id: string;
  status: number;
  location: string;
  description: string;
  occurred_at: Date;
}

/** Orders compensated before any shipment was booked. */
export interface CancelledOrdersTable {
  order_id: string;
  reason: string;
  cancelled_at: Generated<Date>;
}

/** Every table of the shipping database. */
export interface ShippingDatabase extends PlatformTables {
  shipments: ShipmentsTable;
  tracking_events: TrackingEventsTable;
  cancelled_orders: CancelledOrdersTable;
}

/** The database handle, or a transaction on it. */
export type Db = Kysely<ShippingDatabase> | Transaction<ShippingDatabase>;

/** Carrier display names by code, resolved by the caller (the rate table lives in the domain). */
export type CarrierNames = (code: string) => string;

function toShipment(
  row: Selectable<ShipmentsTable>,
  trackingUrl: (n: string) => string,
  names: CarrierNames,
): Shipment {
  return {
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    carrierCode: row.carrier_code,
    carrierName: names(row.carrier_code),
    serviceLevel: row.service_level as ServiceLevel,
    trackingNumber: row.tracking_number,
    trackingUrl: trackingUrl(row.tracking_number),
    status: row.status as ShipmentStatus,
    address: row.address,
    weightGrams: Number(row.weight_grams),
    costCurrency: row.cost_currency,
    costMinor: BigInt(row.cost_minor),
    estimatedDeliveryDate: row.estimated_delivery_date,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Queries of the shipping database, bound to how shipments are presented. */
export interface ShipmentStore {
  /** Inserts a shipment unless the order has one; false when it had. */
  insertIfAbsent(
    db: Db,
    shipment: Shipment,
    items: unknown,
    nextAdvanceAt: Date | null,
  ): Promise<boolean>;
  find(
    db: Db,
    by: { id: string } | { orderId: string } | { trackingNumber: string },
    lock?: boolean,
  ): Promise<Shipment | undefined>;
  /** Saves a new status and when it moves next. */
  saveStatus(db: Db, shipment: Shipment, nextAdvanceAt: Date | null): Promise<void>;
  addTrackingEntry(db: Db, shipmentId: string, entry: TrackingEntry): Promise<void>;
  history(db: Db, shipmentId: string): Promise<TrackingEntry[]>;
  /** Shipments due for the background carrier, locked, skipping those another instance holds. */
  lockDue(db: Transaction<ShippingDatabase>, now: Date, limit: number): Promise<Shipment[]>;
  /** Records that an order was compensated before any shipment existed. */
  markOrderCancelled(db: Db, orderId: string, reason: string): Promise<void>;
  isOrderCancelled(db: Db, orderId: string): Promise<boolean>;
}

/** Creates the store; `trackingUrl` and `carrierName` decorate rows into domain shipments. */
export function createShipmentStore(
  trackingUrl: (n: string) => string,
  carrierName: CarrierNames,
): ShipmentStore {
  const map = (row: Selectable<ShipmentsTable>) => toShipment(row, trackingUrl, carrierName);
  return {
    async insertIfAbsent(db, s, items, nextAdvanceAt) {
      const inserted = await db
        .insertInto("shipments")
        .values({
          id: s.id,
          order_id: s.orderId,
          user_id: s.userId,
          carrier_code: s.carrierCode,
          service_level: s.serviceLevel,
          tracking_number: s.trackingNumber,
          status: s.status,
          address: JSON.stringify(s.address) as unknown as Address,
          items: JSON.stringify(items),
          weight_grams: String(s.weightGrams),
          cost_currency: s.costCurrency,
          cost_minor: s.costMinor.toString(),
          estimated_delivery_date: s.estimatedDeliveryDate,
          next_advance_at: nextAdvanceAt,
          created_at: s.createdAt,
          updated_at: s.updatedAt,
        })
        .onConflict((oc) => oc.column("order_id").doNothing())
        .returning("id")
        .executeTakeFirst();
      return inserted !== undefined;
    },

    async find(db, by, lock = false) {
      let query = db.selectFrom("shipments").selectAll();
      if ("id" in by) query = query.where("id", "=", by.id);
      else if ("orderId" in by) query = query.where("order_id", "=", by.orderId);
      else query = query.where("tracking_number", "=", by.trackingNumber);
      if (lock) query = query.forUpdate();
      const row = await query.executeTakeFirst();
      return row && map(row);
    },

    async saveStatus(db, s, nextAdvanceAt) {
      await db
        .updateTable("shipments")
        .set({ status: s.status, updated_at: s.updatedAt, next_advance_at: nextAdvanceAt })
        .where("id", "=", s.id)
        .execute();
    },

    async addTrackingEntry(db, shipmentId, e) {
      await db
        .insertInto("tracking_events")
        .values({
          shipment_id: shipmentId,
          status: e.status,
          location: e.location,
          description: e.description,
          occurred_at: e.occurredAt,
        })
        .execute();
    },

    async history(db, shipmentId) {
      const rows = await db
        .selectFrom("tracking_events")
        .selectAll()
        .where("shipment_id", "=", shipmentId)
        .orderBy("id")
        .execute();
      return rows.map((r) => ({
        status: r.status as ShipmentStatus,
        location: r.location,
        description: r.description,
        occurredAt: r.occurred_at,
      }));
    },

    async lockDue(trx, now, limit) {
      const rows = await trx
        .selectFrom("shipments")
        .selectAll()
        .where("next_advance_at", "<=", now)
        .orderBy("next_advance_at")
        .limit(limit)
        .forUpdate()
        .skipLocked()
        .execute();
      return rows.map(map);
    },

    async markOrderCancelled(db, orderId, reason) {
      await db
        .insertInto("cancelled_orders")
        .values({ order_id: orderId, reason })
        .onConflict((oc) => oc.column("order_id").doNothing())
        .execute();
    },

    async isOrderCancelled(db, orderId) {
      const row = await db
        .selectFrom("cancelled_orders")
        .select("order_id")
        .where("order_id", "=", orderId)
        .executeTakeFirst();
      return row !== undefined;
    },
  };
}
