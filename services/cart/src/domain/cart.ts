/**
 * A shopping cart as stored in Redis: plain JSON, one document per user. Prices are minor units
 * in one currency per cart. `version` grows by one on every change; the store uses it for
 * compare-and-set, and checkout derives its idempotency key from it.
 */

/** An amount in minor units. */
export interface Money {
  currencyCode: string;
  amountMinor: number;
}

/** One cart line, with the catalog snapshot taken when it was added. */
export interface CartLine {
  variantId: string;
  productId: string;
  sku: string;
  name: string;
  variantAttributes: Record<string, string>;
  imageUrl: string;
  quantity: number;
  /** Unit price when the variant was first added (to tell the shopper it changed). */
  unitPrice: Money;
  /** ISO timestamp of the first add. */
  addedAt: string;
}

/** A user's cart. */
export interface Cart {
  userId: string;
  version: number;
  items: CartLine[];
  /** ISO timestamp of the last change; empty for a cart never written. */
  updatedAt: string;
}

/** What the catalog says about a variant being added. */
export interface VariantInfo {
  variantId: string;
  productId: string;
  sku: string;
  name: string;
  variantAttributes: Record<string, string>;
  imageUrl: string;
  unitPrice: Money;
  purchasable: boolean;
}

/** Most units of one variant in a cart. */
export const MAX_LINE_QUANTITY = 999;
/** Most lines in a cart. */
export const MAX_LINES = 100;

/** A cart rule was broken (FAILED_PRECONDITION); the message names what and which variant. */
export class CartRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CartRuleError";
  }
}

/** The variant is not in the cart (NOT_FOUND). */
export class LineNotFoundError extends Error {
  constructor(readonly variantId: string) {
    super(`variant ${variantId} is not in the cart`);
    this.name = "LineNotFoundError";
  }
}

/** An empty cart for `userId`. */
export function emptyCart(userId: string): Cart {
  return { userId, version: 0, items: [], updatedAt: "" };
}

function touched(cart: Cart, items: CartLine[], now: Date): Cart {
  return { ...cart, items, version: cart.version + 1, updatedAt: now.toISOString() };
}

/**
 * Adds `quantity` units of a variant; an existing line grows. Refuses unpurchasable variants,
 * lines over 999 units, a 101st line and a second currency.
 */
export function addItem(cart: Cart, variant: VariantInfo, quantity: number, now: Date): Cart {
  if (!variant.purchasable)
    throw new CartRuleError(`variant_id: variant ${variant.variantId} is not purchasable`);
  const existing = cart.items.find((l) => l.variantId === variant.variantId);
  const currency = cart.items.find((l) => l.variantId !== variant.variantId)?.unitPrice
    .currencyCode;
  if (currency && currency !== variant.unitPrice.currencyCode) {
    throw new CartRuleError(
      `variant_id: variant ${variant.variantId} is priced in ${variant.unitPrice.currencyCode}, the cart in ${currency}`,
    );
  }
  if (existing) {
    const total = existing.quantity + quantity;
    if (total > MAX_LINE_QUANTITY) {
      throw new CartRuleError(
        `quantity: variant ${variant.variantId} would have ${total} units, more than ${MAX_LINE_QUANTITY}`,
      );
    }
    return touched(
      cart,
      cart.items.map((l) => (l.variantId === variant.variantId ? { ...l, quantity: total } : l)),
      now,
    );
  }
  if (cart.items.length >= MAX_LINES)
    throw new CartRuleError(`variant_id: the cart already has ${MAX_LINES} lines`);
  const line: CartLine = {
    variantId: variant.variantId,
    productId: variant.productId,
    sku: variant.sku,
    name: variant.name,
    variantAttributes: { ...variant.variantAttributes },
    imageUrl: variant.imageUrl,
    quantity,
    unitPrice: { ...variant.unitPrice },
    addedAt: now.toISOString(),
  };
  return touched(cart, [...cart.items, line], now);
}

/** Sets a line's quantity; 0 removes it. Throws LineNotFoundError for an absent variant. */
export function updateItem(cart: Cart, variantId: string, quantity: number, now: Date): Cart {
  if (!cart.items.some((l) => l.variantId === variantId)) throw new LineNotFoundError(variantId);
  if (quantity === 0) return removeItem(cart, variantId, now);
  return touched(
    cart,
    cart.items.map((l) => (l.variantId === variantId ? { ...l, quantity } : l)),
    now,
  );
}

/** Removes a line; removing an absent one changes nothing (same version). */
export function removeItem(cart: Cart, variantId: string, now: Date): Cart {
  if (!cart.items.some((l) => l.variantId === variantId)) return cart;
  return touched(
    cart,
    cart.items.filter((l) => l.variantId !== variantId),
    now,
  );
}

/** Empties the cart. */
export function clearCart(cart: Cart, now: Date): Cart {
  if (cart.items.length === 0) return cart;
  return touched(cart, [], now);
}

/**
 * Takes ordered units out of the cart after order.placed: each ordered variant's line loses
 * the ordered quantity (and disappears at zero), so lines added after checkout, and units added
 * to a line after checkout, stay. An unchanged cart ends up empty.
 */
export function removeOrdered(
  cart: Cart,
  ordered: readonly { variantId: string; quantity: number }[],
  now: Date,
): Cart {
  const byVariant = new Map(ordered.map((o) => [o.variantId, o.quantity]));
  if (!cart.items.some((l) => byVariant.has(l.variantId))) return cart;
  const items = cart.items.flatMap((l) => {
    const bought = byVariant.get(l.variantId) ?? 0;
    const left = l.quantity - bought;
    return left > 0 ? [{ ...l, quantity: left }] : [];
  });
  return touched(cart, items, now);
}

/** Total units across the lines. */
export function itemCount(cart: Cart): number {
  return cart.items.reduce((n, l) => n + l.quantity, 0);
}
