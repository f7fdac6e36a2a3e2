import { isTerminal, type Order } from "./order.ts";

/** True when the order needs no more work from the saga. */
export function isSettled(order: Order): boolean {
  return isTerminal(order.status) && nextStepKind(order) === "wait";
}

/** What the saga must do next for an order, in the order the checks are made. */
export type SagaStepKind =
  | "reserve_stock"
  | "charge"
  | "commit_stock"
  | "create_shipment"
  | "time_out"
  | "release_stock"
  | "cancel_shipment"
  | "refund"
  | "check_late_charge"
  | "wait";

/**
 * The saga's next step, decided only from the order's persisted state (never from memory), so
 * any worker can resume any order after a crash. `wait` means an event must arrive first (or
 * the order is done).
 */
export function nextStepKind(order: Order, now: Date = new Date()): SagaStepKind {
  const deadline = order.saga.stepDeadlineAt;
  const late = deadline !== undefined && now >= deadline;
  switch (order.status) {
    case "PENDING":
      return late ? "time_out" : "reserve_stock";
    case "STOCK_RESERVED":
      return late ? "time_out" : "charge";
    case "PAID":
      return "commit_stock";
    case "CONFIRMED":
      return "create_shipment";
    case "SHIPPED":
    case "DELIVERED":
      return "wait";
    case "CANCELLED":
      // Stock first, then money, then the shipment: every cancel from placement on may have a
      // shipment to cancel (see placeOrder), and shipping being down must not hold up a refund.
      if (!order.saga.stockReleased) return "release_stock";
      if (order.paymentState === "REFUND_PENDING") return "refund";
      if (
        order.saga.chargeAttempted &&
        order.paymentState === "NOT_CHARGED" &&
        !order.saga.lateChargeChecked
      ) {
        return "check_late_charge";
      }
      if (order.saga.shipmentRequested && !order.saga.shipmentCancelled) return "cancel_shipment";
      return "wait";
  }
}
