import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { PostalAddress as ProtoPostalAddress } from "@shopmesh/gen/shopmesh/common/v1/address_pb.js";
import type { MoneySchema } from "@shopmesh/gen/shopmesh/common/v1/money_pb.js";
import {
  type OrderItemSchema,
  OrderSchema,
  type OrderTotalsSchema,
  type PaymentSummarySchema,
  CancellationReason as ProtoCancellationReason,
  OrderStatus as ProtoOrderStatus,
  PaymentState as ProtoPaymentState,
  type ShipmentSummarySchema,
  type StatusChangeSchema,
} from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import type {
  CancellationReason,
  Money,
  Order,
  OrderItem,
  OrderStatus,
  OrderTotals,
  PaymentSummary,
  PostalAddress,
  ShipmentSummary,
  StatusChange,
} from "./domain/order.ts";

/** Domain money -> proto Money (int64 minor units). */
export function toProtoMoney(m: Money): MessageInitShape<typeof MoneySchema> {
  return { currencyCode: m.currencyCode, amountMinor: BigInt(m.amountMinor) };
}

/** Proto Money -> domain money. */
export function fromProtoMoney(
  m: { currencyCode: string; amountMinor: bigint } | undefined,
  fallbackCurrency = "",
): Money {
  return {
    currencyCode: m?.currencyCode || fallbackCurrency,
    amountMinor: Number(m?.amountMinor ?? 0n),
  };
}

/** Proto PostalAddress -> domain address. */
export function fromProtoAddress(a: ProtoPostalAddress): PostalAddress {
  return {
    fullName: a.fullName,
    line1: a.line1,
    line2: a.line2,
    city: a.city,
    region: a.region,
    postalCode: a.postalCode,
    countryCode: a.countryCode,
    phone: a.phone,
  };
}

/** Domain status name -> proto enum. */
export const toProtoStatus = (s: OrderStatus): ProtoOrderStatus => ProtoOrderStatus[s];
/** Proto enum -> domain status name. */
export const fromProtoStatus = (s: ProtoOrderStatus): OrderStatus =>
  ProtoOrderStatus[s] as OrderStatus;
/** Domain reason name -> proto enum. */
export const toProtoReason = (r: CancellationReason): ProtoCancellationReason =>
  ProtoCancellationReason[r];

/** Domain line -> proto OrderItem. */
export function toProtoItem(i: OrderItem): MessageInitShape<typeof OrderItemSchema> {
  return {
    variantId: i.variantId,
    productId: i.productId,
    sku: i.sku,
    name: i.name,
    variantAttributes: i.variantAttributes,
    imageUrl: i.imageUrl,
    unitPrice: toProtoMoney(i.unitPrice),
    quantity: i.quantity,
    lineTotal: toProtoMoney(i.lineTotal),
    weightGrams: i.weightGrams,
  };
}

/** Domain totals -> proto OrderTotals. */
export function toProtoTotals(t: OrderTotals): MessageInitShape<typeof OrderTotalsSchema> {
  return {
    subtotal: toProtoMoney(t.subtotal),
    shipping: toProtoMoney(t.shipping),
    tax: toProtoMoney(t.tax),
    discount: toProtoMoney(t.discount),
    total: toProtoMoney(t.total),
  };
}

/** Domain payment summary -> proto. */
export function toProtoPayment(p: PaymentSummary): MessageInitShape<typeof PaymentSummarySchema> {
  return {
    paymentId: p.paymentId,
    ...(p.card ? { card: p.card } : {}),
    amount: toProtoMoney(p.amount),
    refundedAmount: toProtoMoney(p.refundedAmount),
  };
}

/** Domain shipment summary -> proto. */
export function toProtoShipment(
  s: ShipmentSummary,
): MessageInitShape<typeof ShipmentSummarySchema> {
  return {
    shipmentId: s.shipmentId,
    carrierCode: s.carrierCode,
    carrierName: s.carrierName,
    trackingNumber: s.trackingNumber,
    trackingUrl: s.trackingUrl,
    status: s.status,
    estimatedDeliveryDate: s.estimatedDeliveryDate,
    ...(s.shippedAt ? { shippedAt: timestampFromDate(s.shippedAt) } : {}),
    ...(s.deliveredAt ? { deliveredAt: timestampFromDate(s.deliveredAt) } : {}),
  };
}

/** Domain history entry -> proto StatusChange. */
export function toProtoStatusChange(h: StatusChange): MessageInitShape<typeof StatusChangeSchema> {
  return { status: toProtoStatus(h.status), at: timestampFromDate(h.at), note: h.note };
}

/** The whole order as the API returns it. */
export function toProtoOrder(o: Order) {
  return create(OrderSchema, {
    id: o.id,
    userId: o.userId,
    status: toProtoStatus(o.status),
    paymentState: ProtoPaymentState[o.paymentState],
    items: o.items.map(toProtoItem),
    shippingAddress: o.shippingAddress,
    serviceLevel: o.serviceLevel,
    carrierCode: o.carrierCode,
    currencyCode: o.currencyCode,
    totals: toProtoTotals(o.totals),
    ...(o.payment ? { payment: toProtoPayment(o.payment) } : {}),
    ...(o.shipment ? { shipment: toProtoShipment(o.shipment) } : {}),
    ...(o.cancellation
      ? {
          cancellation: {
            reason: toProtoReason(o.cancellation.reason),
            detail: o.cancellation.detail,
            cancelledByUserId: o.cancellation.cancelledByUserId,
            cancelledAt: timestampFromDate(o.cancellation.cancelledAt),
          },
        }
      : {}),
    statusHistory: o.statusHistory.map(toProtoStatusChange),
    idempotencyKey: o.idempotencyKey,
    createdAt: timestampFromDate(o.createdAt),
    updatedAt: timestampFromDate(o.updatedAt),
  });
}
