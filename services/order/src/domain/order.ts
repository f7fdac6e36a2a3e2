/**
 * The order aggregate as the domain sees it: plain data, no I/O. Amounts are integer minor units
 * (`number` is exact up to 2^53 minor units, far beyond any order); the handlers convert to and
 * from the proto's int64 at the edge.
 */

/** Where an order stands in the checkout saga. */
export type OrderStatus =
  | "PENDING"
  | "STOCK_RESERVED"
  | "PAID"
  | "CONFIRMED"
  | "SHIPPED"
  | "DELIVERED"
  | "CANCELLED";

/** The money side of an order, tracked apart from its status. */
export type PaymentState = "NOT_CHARGED" | "CHARGED" | "FAILED" | "REFUND_PENDING" | "REFUNDED";

/** Why an order was cancelled. */
export type CancellationReason =
  | "OUT_OF_STOCK"
  | "PAYMENT_DECLINED"
  | "PAYMENT_TIMEOUT"
  | "INVENTORY_TIMEOUT"
  | "RESERVATION_EXPIRED"
  | "USER_REQUESTED"
  | "ADMIN_REQUESTED";

/** An amount in one currency, in minor units (cents). */
export interface Money {
  currencyCode: string;
  amountMinor: number;
}

/** One order line with its catalog snapshot. */
export interface OrderItem {
  variantId: string;
  productId: string;
  sku: string;
  name: string;
  variantAttributes: Record<string, string>;
  imageUrl: string;
  unitPrice: Money;
  quantity: number;
  lineTotal: Money;
  weightGrams: number;
}

/** total = subtotal + shipping + tax - discount. */
export interface OrderTotals {
  subtotal: Money;
  shipping: Money;
  tax: Money;
  discount: Money;
  total: Money;
}

/** Destination, as on the proto's PostalAddress. */
export interface PostalAddress {
  fullName: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  countryCode: string;
  phone: string;
}

/** Card facts kept for receipts: never a number or a token. */
export interface CardSummary {
  brand: number;
  last4: string;
  expMonth: number;
  expYear: number;
}

/** What the order keeps of its successful (or attempted) payment. */
export interface PaymentSummary {
  paymentId: string;
  card: CardSummary | undefined;
  amount: Money;
  refundedAmount: Money;
}

/** What the order keeps of its shipment. */
export interface ShipmentSummary {
  shipmentId: string;
  carrierCode: string;
  carrierName: string;
  trackingNumber: string;
  trackingUrl: string;
  /** shopmesh.shipping.v1.ShipmentStatus number. */
  status: number;
  estimatedDeliveryDate: string;
  shippedAt: Date | undefined;
  deliveredAt: Date | undefined;
}

/** Why, when and by whom an order was cancelled. */
export interface Cancellation {
  reason: CancellationReason;
  detail: string;
  cancelledByUserId: string;
  cancelledAt: Date;
  /** The status the order was in when cancelled. */
  previousStatus: OrderStatus;
}

/** One entry of the status history. */
export interface StatusChange {
  status: OrderStatus;
  at: Date;
  note: string;
}

/**
 * The saga's bookkeeping: which side effects were asked for and which compensations are done.
 * It lives on the order row, so a restarted worker knows exactly what is left to do.
 */
export interface SagaState {
  /** When the current forward step gives up and compensates (PENDING and STOCK_RESERVED). */
  stepDeadlineAt: Date | undefined;
  /**
   * A Charge call may have been sent (its outcome may still arrive late): set from placement
   * on (see placeOrder), cleared only when stock was refused (see markOutOfStock).
   */
  chargeAttempted: boolean;
  /** The reservation was released (or there was none to release). */
  stockReleased: boolean;
  /**
   * A CreateShipment call may have been sent: set from placement on (see placeOrder), cleared
   * only when the order was refused stock or payment (see markOutOfStock, markPaymentDeclined).
   */
  shipmentRequested: boolean;
  /** The shipment was cancelled (or there was none). */
  shipmentCancelled: boolean;
  /**
   * After a cancel with a charge possibly in flight: payment was asked whether a charge went
   * through, so a late success is refunded even if its event were never seen.
   */
  lateChargeChecked: boolean;
}

/** The order aggregate. */
export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  paymentState: PaymentState;
  items: OrderItem[];
  shippingAddress: PostalAddress;
  /** shopmesh.shipping.v1.ServiceLevel number. */
  serviceLevel: number;
  carrierCode: string;
  currencyCode: string;
  totals: OrderTotals;
  payment: PaymentSummary | undefined;
  shipment: ShipmentSummary | undefined;
  cancellation: Cancellation | undefined;
  statusHistory: StatusChange[];
  idempotencyKey: string;
  createdAt: Date;
  updatedAt: Date;
  saga: SagaState;
}

/** Forward order of the happy path; CANCELLED sits outside it. */
export const FORWARD: readonly OrderStatus[] = [
  "PENDING",
  "STOCK_RESERVED",
  "PAID",
  "CONFIRMED",
  "SHIPPED",
  "DELIVERED",
];

/** Position of a status on the happy path; CANCELLED ranks after everything. */
export function rank(status: OrderStatus): number {
  return status === "CANCELLED" ? FORWARD.length : FORWARD.indexOf(status);
}

/** True for DELIVERED and CANCELLED. */
export function isTerminal(status: OrderStatus): boolean {
  return status === "DELIVERED" || status === "CANCELLED";
}

/** Thrown when a command or event does not fit the order's state (a bug or a forged call). */
export class InvalidTransitionError extends Error {
  constructor(
    readonly orderId: string,
    readonly from: OrderStatus,
    readonly action: string,
  ) {
    super(`order ${orderId}: cannot ${action} while ${from}`);
    this.name = "InvalidTransitionError";
  }
}

/** Adds two amounts of one currency. */
export function addMoney(a: Money, b: Money): Money {
  if (a.currencyCode !== b.currencyCode) {
    throw new Error(`cannot add ${a.currencyCode} to ${b.currencyCode}`);
  }
  return { currencyCode: a.currencyCode, amountMinor: a.amountMinor + b.amountMinor };
}

/** Zero in `currencyCode`. */
export function zero(currencyCode: string): Money {
  return { currencyCode, amountMinor: 0 };
}
