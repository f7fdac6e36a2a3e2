import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Adjustment,
  AdjustmentReason,
  AdjustmentSchema,
  ReleaseReason,
  type Reservation,
  ReservationSchema,
  ReservationStatus,
  type StockLevel,
  StockLevelSchema,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import type * as domain from "./domain/reservation.ts";
import { available, type Stock } from "./domain/stock.ts";
import type { AdjustmentRecord } from "./store.ts";

/** A stock row as the proto's StockLevel. */
export function stockLevelMessage(stock: Stock): StockLevel {
  return create(StockLevelSchema, {
    variantId: stock.variantId,
    onHand: stock.onHand,
    reserved: stock.reserved,
    committed: stock.committed,
    available: Math.max(0, available(stock)),
    lowStockThreshold: stock.lowStockThreshold,
    updatedAt: timestampFromDate(stock.updatedAt),
  });
}

/** A domain reservation as the proto's Reservation. */
export function reservationMessage(r: domain.Reservation): Reservation {
  return create(ReservationSchema, {
    id: r.id,
    orderId: r.orderId,
    lines: r.lines,
    status: ReservationStatus[r.status],
    expiresAt: timestampFromDate(r.expiresAt),
    shortages: r.shortages,
    releaseReason: r.releaseReason ? ReleaseReason[r.releaseReason] : ReleaseReason.UNSPECIFIED,
    createdAt: timestampFromDate(r.createdAt),
    updatedAt: timestampFromDate(r.updatedAt),
  });
}

/** The domain name of a proto release reason (validated requests never carry UNSPECIFIED). */
export function releaseReasonName(reason: ReleaseReason): domain.ReleaseReason {
  const name = ReleaseReason[reason] as domain.ReleaseReason | "UNSPECIFIED";
  return name === "UNSPECIFIED" ? "ORDER_CANCELLED" : name;
}

/** The stored name of a proto adjustment reason. */
export function adjustmentReasonName(reason: AdjustmentReason): string {
  return AdjustmentReason[reason];
}

/** An audit-trail entry as the proto's Adjustment. */
export function adjustmentMessage(a: AdjustmentRecord): Adjustment {
  const init: MessageInitShape<typeof AdjustmentSchema> = {
    id: a.id,
    variantId: a.variantId,
    delta: a.delta,
    onHandBefore: a.onHandBefore,
    onHandAfter: a.onHandAfter,
    reason:
      AdjustmentReason[a.reason as keyof typeof AdjustmentReason] ?? AdjustmentReason.UNSPECIFIED,
    note: a.note,
    actorUserId: a.actorUserId,
    idempotencyKey: a.idempotencyKey,
    createdAt: timestampFromDate(a.createdAt),
  };
  return create(AdjustmentSchema, init);
}
