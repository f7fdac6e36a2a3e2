import type { Money, OrderItem, OrderTotals } from "./order.ts";
import { computeTax, type TaxRule } from "./tax.ts";

/** What the catalog says about one variant, reduced to what pricing needs. */
export interface VariantSnapshot {
  variantId: string;
  productId: string;
  sku: string;
  name: string;
  variantAttributes: Record<string, string>;
  imageUrl: string;
  unitPrice: Money;
  weightGrams: number;
  purchasable: boolean;
}

/** A requested line: variant and units. */
export interface RequestedLine {
  variantId: string;
  quantity: number;
}

/** Why a line cannot be priced; the handler turns it into FAILED_PRECONDITION. */
export class PricingError extends Error {
  constructor(
    readonly variantId: string,
    message: string,
  ) {
    super(message);
    this.name = "PricingError";
  }
}

/**
 * Prices requested lines from catalog snapshots (never from the client): every variant must
 * exist, be purchasable and be priced in `currencyCode`.
 */
export function priceLines(
  lines: readonly RequestedLine[],
  snapshots: ReadonlyMap<string, VariantSnapshot>,
  currencyCode: string,
): OrderItem[] {
  return lines.map((line, i) => {
    const v = snapshots.get(line.variantId);
    if (!v)
      throw new PricingError(
        line.variantId,
        `items[${i}]: variant ${line.variantId} does not exist`,
      );
    if (!v.purchasable) {
      throw new PricingError(
        line.variantId,
        `items[${i}]: variant ${line.variantId} is not purchasable`,
      );
    }
    if (v.unitPrice.currencyCode !== currencyCode) {
      throw new PricingError(
        line.variantId,
        `items[${i}]: variant ${line.variantId} is priced in ${v.unitPrice.currencyCode}, not ${currencyCode}`,
      );
    }
    return {
      variantId: v.variantId,
      productId: v.productId,
      sku: v.sku,
      name: v.name,
      variantAttributes: { ...v.variantAttributes },
      imageUrl: v.imageUrl,
      unitPrice: { ...v.unitPrice },
      quantity: line.quantity,
      lineTotal: { currencyCode, amountMinor: v.unitPrice.amountMinor * line.quantity },
      weightGrams: v.weightGrams,
    };
  });
}

/** Total shipping weight of the lines, at least 1 g so a quote is always possible. */
export function totalWeightGrams(items: readonly OrderItem[]): number {
  return Math.max(
    1,
    items.reduce((sum, item) => sum + item.weightGrams * item.quantity, 0),
  );
}

/**
 * The order's totals: subtotal from the lines, the quoted shipping, tax from the destination's
 * rule and the discount (a non-negative amount, capped at the subtotal).
 */
export function computeTotals(
  items: readonly OrderItem[],
  shipping: Money,
  rule: TaxRule,
  discountMinor = 0,
): OrderTotals {
  const currencyCode = shipping.currencyCode;
  const subtotal = {
    currencyCode,
    amountMinor: items.reduce((sum, item) => sum + item.lineTotal.amountMinor, 0),
  };
  const discount = {
    currencyCode,
    amountMinor: Math.min(Math.max(0, discountMinor), subtotal.amountMinor),
  };
  const tax = computeTax(subtotal, shipping, discount, rule);
  return {
    subtotal,
    shipping: { ...shipping },
    tax,
    discount,
    total: {
      currencyCode,
      amountMinor:
        subtotal.amountMinor + shipping.amountMinor + tax.amountMinor - discount.amountMinor,
    },
  };
}
