import { FailedPreconditionError } from "@shopmesh/platform/errors";

/**
 * A variant's stock counts. The database enforces `reserved + committed <= onHand` and that all
 * are non-negative; the functions here decide changes before they reach it.
 */
export interface Stock {
  variantId: string;
  onHand: number;
  reserved: number;
  committed: number;
  /** available at or below this is "low"; 0 disables low-stock alerts. */
  lowStockThreshold: number;
  /** Set when the catalog deleted the variant: nothing more can be reserved. */
  discontinued: boolean;
  updatedAt: Date;
}

/** A quantity of one variant, as an order line asks for it. */
export interface Line {
  variantId: string;
  quantity: number;
}

/** A line that could not be reserved, with what was available. */
export interface Shortage {
  variantId: string;
  requested: number;
  available: number;
}

/** Units that can be sold now: on hand minus everything held or sold. */
export function available(stock: Pick<Stock, "onHand" | "reserved" | "committed">): number {
  return stock.onHand - stock.reserved - stock.committed;
}

/**
 * Decides whether every line can be held, all or nothing. A variant without a stock record or
 * discontinued by the catalog counts as zero available.
 */
export function findShortages(
  lines: readonly Line[],
  stockByVariant: ReadonlyMap<string, Stock>,
): Shortage[] {
  const shortages: Shortage[] = [];
  for (const line of lines) {
    const stock = stockByVariant.get(line.variantId);
    const free = stock && !stock.discontinued ? Math.max(0, available(stock)) : 0;
    if (free < line.quantity) {
      shortages.push({ variantId: line.variantId, requested: line.quantity, available: free });
    }
  }
  return shortages;
}

/** How CheckStock judges one line. */
export type Availability = "IN_STOCK" | "LOW_STOCK" | "INSUFFICIENT" | "OUT_OF_STOCK" | "UNKNOWN";

/** CheckStock's verdict for `quantity` units given the variant's stock (undefined: unknown). */
export function judgeAvailability(stock: Stock | undefined, quantity: number): Availability {
  if (!stock) return "UNKNOWN";
  const free = stock.discontinued ? 0 : Math.max(0, available(stock));
  if (free === 0) return "OUT_OF_STOCK";
  if (free < quantity) return "INSUFFICIENT";
  const left = free - quantity;
  return stock.lowStockThreshold > 0 && left <= stock.lowStockThreshold ? "LOW_STOCK" : "IN_STOCK";
}

/** A stock-level alert, published when available crosses a boundary. */
export type Crossing = "low_stock" | "out_of_stock" | "back_in_stock";

/**
 * The alerts a change from `before` to `after` crosses, once per crossing rather than on every
 * change past a boundary. Reaching zero is out_of_stock only (the stronger alert, not also
 * low_stock); rising from zero is back_in_stock, plus low_stock when it lands at or below the
 * threshold.
 */
export function stockCrossings(
  before: Pick<Stock, "onHand" | "reserved" | "committed">,
  after: Pick<Stock, "onHand" | "reserved" | "committed" | "lowStockThreshold">,
): Crossing[] {
  const was = Math.max(0, available(before));
  const now = Math.max(0, available(after));
  const threshold = after.lowStockThreshold;
  const crossings: Crossing[] = [];
  if (was > 0 && now === 0) crossings.push("out_of_stock");
  if (was === 0 && now > 0) crossings.push("back_in_stock");
  if (threshold > 0 && now > 0 && now <= threshold && (was > threshold || was === 0)) {
    crossings.push("low_stock");
  }
  return crossings;
}

/**
 * True when changing available by `availableDelta` from `before` cannot cross any boundary of
 * {@link stockCrossings}, whatever else the change does: taking units leaves more than the
 * threshold (and so more than zero), returning units starts above zero, or available stays put.
 * Why: a change known to emit no crossing event can be written in one statement with its other
 * events, built before the counts under the row lock are seen; the store checks this same rule
 * in SQL against the locked row (`crossesNoBoundarySql`), and only a change near a boundary
 * needs the counts first. Conservative: false does not mean a crossing happens.
 */
export function crossesNoBoundary(
  before: Pick<Stock, "onHand" | "reserved" | "committed" | "lowStockThreshold">,
  availableDelta: number,
): boolean {
  const was = available(before);
  if (availableDelta < 0) return was + availableDelta > before.lowStockThreshold;
  if (availableDelta > 0) return was > 0;
  return true;
}

/** Counts to add to a stock row, in units. */
export interface CountChange {
  onHand: number;
  reserved: number;
  committed: number;
}

/** `stock` after `change`, written at `at`: what the store leaves in the row it holds locked. */
export function withCounts(stock: Stock, change: CountChange, at: Date): Stock {
  return {
    ...stock,
    onHand: stock.onHand + change.onHand,
    reserved: stock.reserved + change.reserved,
    committed: stock.committed + change.committed,
    updatedAt: at,
  };
}

/** A manual change of on_hand: by a delta, or to an absolute count (a recount). */
export type OnHandChange = { delta: number } | { setOnHand: number };

/** The result of {@link adjustOnHand}: the audit trail's before, after and implied delta. */
export interface OnHandAdjustment {
  onHandBefore: number;
  onHandAfter: number;
  delta: number;
}

/**
 * Applies a manual on-hand change. Refuses (FAILED_PRECONDITION) to drop on_hand below what is
 * reserved or committed: those units are promised to orders, and taking them away would oversell.
 */
export function adjustOnHand(stock: Stock, change: OnHandChange): OnHandAdjustment {
  const onHandBefore = stock.onHand;
  const onHandAfter = "delta" in change ? onHandBefore + change.delta : change.setOnHand;
  const held = stock.reserved + stock.committed;
  if (onHandAfter < held) {
    throw new FailedPreconditionError(
      `variant ${stock.variantId}: on_hand would become ${onHandAfter}, below the ${held} units reserved or committed`,
    );
  }
  return { onHandBefore, onHandAfter, delta: onHandAfter - onHandBefore };
}
