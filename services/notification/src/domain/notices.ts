import type { Money } from "@shopmesh/gen/shopmesh/common/v1/money_pb.js";
import type {
  OrderCancelled,
  OrderConfirmed,
  OrderDelivered,
  OrderPlaced,
} from "@shopmesh/gen/shopmesh/events/v1/order_events_pb.js";
import type {
  ShipmentCreated,
  ShipmentStatusUpdated,
} from "@shopmesh/gen/shopmesh/events/v1/shipping_events_pb.js";
import type {
  UserEmailVerificationRequested,
  UserPasswordResetRequested,
  UserProfileUpdated,
  UserRegistered,
} from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import { NotificationType } from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { CancellationReason, PaymentState } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { ShipmentStatus } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import type { MessageData } from "./templates.ts";

/** The address book entry an event tells us about. */
export interface RecipientUpdate {
  userId: string;
  email: string;
  name: string;
}

/** A message an event asks for; `email` when the event names the address itself. */
export interface Notice {
  userId: string;
  type: NotificationType;
  email?: string;
  data: MessageData;
}

/** What one event changes: the address book and the messages to send. */
export interface Effects {
  recipients: RecipientUpdate[];
  notices: Notice[];
}

/** Formats minor units as money, e.g. 2599 USD -> "$25.99". */
export function formatMoney(money: Money | undefined, fallbackCurrency = "USD"): string {
  const currency = money?.currencyCode || fallbackCurrency;
  const format = new Intl.NumberFormat("en-US", { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(Number(money?.amountMinor ?? 0n) / 10 ** digits);
}

const REASONS: Readonly<Record<number, string>> = {
  [CancellationReason.OUT_OF_STOCK]: "some items were out of stock",
  [CancellationReason.PAYMENT_DECLINED]: "the payment was declined",
  [CancellationReason.PAYMENT_TIMEOUT]: "the payment did not complete in time",
  [CancellationReason.INVENTORY_TIMEOUT]: "we could not reserve your items in time",
  [CancellationReason.RESERVATION_EXPIRED]: "the reservation of your items expired",
  [CancellationReason.USER_REQUESTED]: "you asked us to cancel it",
  [CancellationReason.ADMIN_REQUESTED]: "our staff cancelled it",
};

type Lines = { name: string; quantity: number; lineTotal?: Money }[];
const lines = (items: Lines) =>
  items.map((i) => ({ name: i.name, quantity: i.quantity, lineTotal: formatMoney(i.lineTotal) }));

const none: Effects = { recipients: [], notices: [] };
const one = (notice: Notice, recipients: RecipientUpdate[] = []): Effects => ({
  recipients,
  notices: [notice],
});

/** user.registered: remember the address; welcome. */
export function onUserRegistered(e: UserRegistered): Effects {
  const recipient = { userId: e.userId, email: e.email, name: e.name };
  return one(
    { userId: e.userId, type: NotificationType.WELCOME, email: e.email, data: { name: e.name } },
    [recipient],
  );
}

/** user.profile_updated: keep the address current; tell the user about changes they made. */
export function onUserProfileUpdated(e: UserProfileUpdated): Effects {
  const recipients = [{ userId: e.userId, email: e.email, name: e.name }];
  const noticeable = e.changedFields.filter((f) =>
    ["name", "phone", "password", "email"].includes(f),
  );
  if (noticeable.length === 0) return { recipients, notices: [] };
  return one(
    {
      userId: e.userId,
      type: NotificationType.ACCOUNT_CHANGED,
      email: e.email,
      data: { name: e.name, changedFields: noticeable },
    },
    recipients,
  );
}

/** user.email_verification_requested: the sealed code goes into the message data, still sealed. */
export function onEmailVerificationRequested(e: UserEmailVerificationRequested): Effects {
  return one({
    userId: e.userId,
    type: NotificationType.EMAIL_VERIFICATION,
    email: e.email,
    data: {
      name: e.name,
      sealed: e.sealedCode,
      ...(e.expiresAt ? { expiresAt: tsIso(e.expiresAt) } : {}),
    },
  });
}

/** user.password_reset_requested: the sealed token goes into the message data, still sealed. */
export function onPasswordResetRequested(e: UserPasswordResetRequested): Effects {
  return one({
    userId: e.userId,
    type: NotificationType.PASSWORD_RESET,
    email: e.email,
    data: {
      name: e.name,
      sealed: e.sealedToken,
      ...(e.expiresAt ? { expiresAt: tsIso(e.expiresAt) } : {}),
    },
  });
}

/** order.placed: "we received your order". */
export function onOrderPlaced(e: OrderPlaced): Effects {
  return one({
    userId: e.userId,
    type: NotificationType.ORDER_PLACED,
    data: {
      orderId: e.orderId,
      items: lines(e.items),
      total: formatMoney(e.totals?.total, e.currencyCode),
    },
  });
}

/** order.confirmed: the receipt. */
export function onOrderConfirmed(e: OrderConfirmed): Effects {
  return one({
    userId: e.userId,
    type: NotificationType.ORDER_CONFIRMED,
    data: {
      orderId: e.orderId,
      items: lines(e.items),
      total: formatMoney(e.totals?.total, e.currencyCode),
    },
  });
}

/** order.cancelled: with the reason and whether a refund follows. */
export function onOrderCancelled(e: OrderCancelled): Effects {
  return one({
    userId: e.userId,
    type: NotificationType.ORDER_CANCELLED,
    data: {
      orderId: e.orderId,
      reason: REASONS[e.reason] ?? "cancelled",
      detail: e.detail,
      refundPending: e.paymentState === PaymentState.REFUND_PENDING,
    },
  });
}

/** order.delivered: delivered. */
export function onOrderDelivered(e: OrderDelivered): Effects {
  return one({
    userId: e.userId,
    type: NotificationType.ORDER_DELIVERED,
    data: { orderId: e.orderId, trackingNumber: e.shipment?.trackingNumber ?? "" },
  });
}

/**
 * shipment.created: "your order has shipped" with the tracking number. The shipped e-mail is
 * sent from this event only (order.shipped repeats it), so an order gets one shipped message.
 */
export function onShipmentCreated(e: ShipmentCreated): Effects {
  return one({
    userId: e.userId,
    type: NotificationType.ORDER_SHIPPED,
    data: {
      orderId: e.orderId,
      carrierName: e.carrierName,
      trackingNumber: e.trackingNumber,
      trackingUrl: e.trackingUrl,
      estimatedDeliveryDate: e.estimatedDeliveryDate,
    },
  });
}

/**
 * shipment.status_updated: only "out for delivery" and delivery exceptions are worth an e-mail;
 * delivery itself is announced from order.delivered, cancellation from order.cancelled.
 */
export function onShipmentStatusUpdated(e: ShipmentStatusUpdated): Effects {
  if (e.status !== ShipmentStatus.OUT_FOR_DELIVERY && e.status !== ShipmentStatus.EXCEPTION) {
    return none;
  }
  return one({
    userId: e.userId,
    type: NotificationType.SHIPMENT_UPDATE,
    data: {
      orderId: e.orderId,
      statusText:
        e.status === ShipmentStatus.OUT_FOR_DELIVERY ? "Out for delivery" : "Delivery problem",
      detail: e.description,
      trackingNumber: e.trackingNumber,
    },
  });
}

function tsIso(ts: { seconds: bigint; nanos: number }): string {
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)).toISOString();
}
