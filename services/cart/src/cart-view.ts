import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type CartItemSchema,
  type CartSchema,
  StockStatus,
} from "@shopmesh/gen/shopmesh/cart/v1/cart_pb.js";
import type { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import {
  Availability,
  type InventoryService,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import type { Client } from "@shopmesh/platform/grpc-client";
import type { Logger } from "@shopmesh/platform/logger";
import type { Cart, CartLine, Money } from "./domain/cart.ts";

/** The reads a cart view needs; both go through the platform's breakers. */
export interface ViewClients {
  catalog: Client<typeof CatalogService>;
  inventory: Client<typeof InventoryService>;
}

/** A cart line with what the catalog and inventory say about it now. */
export interface LineView {
  line: CartLine;
  unitPrice: Money;
  priceChanged: boolean;
  purchasable: boolean;
  weightGrams: number;
  stockStatus: StockStatus;
  availableQuantity: number;
  name: string;
}

/** A whole cart, re-priced. */
export interface CartView {
  cart: Cart;
  lines: LineView[];
  subtotal: Money | undefined;
  /** False when the catalog could not be asked and snapshot prices were used. */
  pricesFresh: boolean;
}

const STOCK_STATUS: Record<number, StockStatus> = {
  [Availability.IN_STOCK]: StockStatus.IN_STOCK,
  [Availability.LOW_STOCK]: StockStatus.LOW_STOCK,
  [Availability.INSUFFICIENT]: StockStatus.OUT_OF_STOCK,
  [Availability.OUT_OF_STOCK]: StockStatus.OUT_OF_STOCK,
  [Availability.UNKNOWN_VARIANT]: StockStatus.OUT_OF_STOCK,
};

/**
 * Re-prices a cart from the catalog and checks its stock with inventory, in parallel. Either
 * peer failing (deadline, open breaker) degrades instead of failing the call: lines keep the
 * snapshot taken when they were added, and stock becomes UNVERIFIED.
 */
export async function viewCart(
  cart: Cart,
  clients: ViewClients,
  logger: Logger,
): Promise<CartView> {
  if (cart.items.length === 0) return { cart, lines: [], subtotal: undefined, pricesFresh: true };
  const ids = cart.items.map((l) => l.variantId);
  const [catalog, stock] = await Promise.all([
    clients.catalog.batchGetVariants({ variantIds: ids }).catch((err: unknown) => {
      logger.warn({ err }, "catalog unavailable; showing the cart with snapshot prices");
      return undefined;
    }),
    clients.inventory
      .checkStock({
        lines: cart.items.map((l) => ({ variantId: l.variantId, quantity: l.quantity })),
      })
      .catch((err: unknown) => {
        logger.warn({ err }, "inventory unavailable; cart stock is UNVERIFIED");
        return undefined;
      }),
  ]);
  const details = new Map((catalog?.variants ?? []).map((d) => [d.variant?.id ?? "", d]));
  const checks = new Map((stock?.results ?? []).map((r) => [r.variantId, r]));
  const lines = cart.items.map((line): LineView => {
    const d = details.get(line.variantId);
    const price = d?.variant?.price;
    const unitPrice = price
      ? { currencyCode: price.currencyCode, amountMinor: Number(price.amountMinor) }
      : line.unitPrice;
    const check = checks.get(line.variantId);
    return {
      line,
      unitPrice,
      priceChanged:
        unitPrice.amountMinor !== line.unitPrice.amountMinor ||
        unitPrice.currencyCode !== line.unitPrice.currencyCode,
      // A variant the catalog no longer has is not purchasable; an unreachable catalog is
      // given the benefit of the doubt (PlaceOrder checks again).
      purchasable: catalog ? (d?.purchasable ?? false) : true,
      weightGrams: d?.variant?.weightGrams ?? 0,
      stockStatus: check
        ? (STOCK_STATUS[check.availability] ?? StockStatus.UNVERIFIED)
        : StockStatus.UNVERIFIED,
      availableQuantity: check?.available ?? 0,
      name: d?.product?.name ?? line.name,
    };
  });
  const currencyCode = lines[0]!.unitPrice.currencyCode;
  const subtotal = {
    currencyCode,
    amountMinor: lines.reduce((sum, l) => sum + l.unitPrice.amountMinor * l.line.quantity, 0),
  };
  return { cart, lines, subtotal, pricesFresh: catalog !== undefined };
}

const money = (m: Money) => ({ currencyCode: m.currencyCode, amountMinor: BigInt(m.amountMinor) });

/** A cart view as the API returns it. */
export function toProtoCart(
  view: CartView,
  ttlSeconds: number,
): MessageInitShape<typeof CartSchema> {
  const { cart } = view;
  const updatedAt = cart.updatedAt ? new Date(cart.updatedAt) : undefined;
  return {
    userId: cart.userId,
    items: view.lines.map(
      (l): MessageInitShape<typeof CartItemSchema> => ({
        variantId: l.line.variantId,
        productId: l.line.productId,
        sku: l.line.sku,
        name: l.name,
        variantAttributes: l.line.variantAttributes,
        imageUrl: l.line.imageUrl,
        quantity: l.line.quantity,
        unitPrice: money(l.unitPrice),
        lineTotal: money({
          ...l.unitPrice,
          amountMinor: l.unitPrice.amountMinor * l.line.quantity,
        }),
        priceChanged: l.priceChanged,
        stockStatus: l.stockStatus,
        availableQuantity: l.availableQuantity,
        purchasable: l.purchasable,
        addedAt: timestampFromDate(new Date(l.line.addedAt)),
      }),
    ),
    ...(view.subtotal ? { subtotal: money(view.subtotal) } : {}),
    itemCount: cart.items.reduce((n, l) => n + l.quantity, 0),
    ...(updatedAt
      ? {
          updatedAt: timestampFromDate(updatedAt),
          expiresAt: timestampFromDate(new Date(updatedAt.getTime() + ttlSeconds * 1000)),
        }
      : {}),
  };
}
