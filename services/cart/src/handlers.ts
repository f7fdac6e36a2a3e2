import type { CartService } from "@shopmesh/gen/shopmesh/cart/v1/cart_pb.js";
import type { OrderService } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import {
  ServiceLevel,
  type ShippingService,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import type { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { computeTax, taxRuleFor } from "@shopmesh/order-service/domain/tax";
import { requireSelfOrAdmin, requireUser } from "@shopmesh/platform/auth";
import {
  FailedPreconditionError,
  NotFoundError,
  PermissionDeniedError,
} from "@shopmesh/platform/errors";
import type { Client } from "@shopmesh/platform/grpc-client";
import type { HandlerContext, ServiceImpl } from "@shopmesh/platform/handler-context";
import type { Logger } from "@shopmesh/platform/logger";
import { type CartView, toProtoCart, type ViewClients, viewCart } from "./cart-view.ts";
import {
  addItem,
  CartRuleError,
  clearCart,
  itemCount,
  LineNotFoundError,
  removeItem,
  updateItem,
} from "./domain/cart.ts";
import type { CartEvents } from "./events.ts";
import type { CartStore } from "./store.ts";

/** What the cart handlers need; built once in main.ts. */
export interface CartHandlerDeps {
  store: CartStore;
  clients: ViewClients & {
    user: Client<typeof UserService>;
    order: Client<typeof OrderService>;
    shipping: Client<typeof ShippingService>;
  };
  events: CartEvents;
  logger: Logger;
  ttlSeconds: number;
  checkoutTimeoutMs: number;
}

/** The caller's own authorization header, to act on the user's behalf at user and order. */
function forwardAuth(ctx: HandlerContext): { metadata: Record<string, string> } {
  const [value] = ctx.metadata.get("authorization");
  return { metadata: value ? { authorization: String(value) } : {} };
}

/** Runs a cart change, turning domain rule breaks into their gRPC errors. */
async function change<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CartRuleError) throw new FailedPreconditionError(err.message);
    if (err instanceof LineNotFoundError) throw new NotFoundError(err.message);
    throw err;
  }
}

/**
 * The PlaceOrder idempotency key of a checkout: the client's key, bound to the cart version it
 * was pressed on. A double-click (same key, same cart) yields one order; the same key reused
 * after the cart changed is a new checkout of the new cart, not a conflict.
 */
export function checkoutKey(clientKey: string, version: number): string {
  return `cart-v${version}-${clientKey}`.slice(0, 128);
}

/** Creates the CartService implementation. Every RPC is owner-only (or admin). */
export function createCartHandlers(deps: CartHandlerDeps): ServiceImpl<typeof CartService> {
  const { store, clients, logger } = deps;
  const respond = async (view: Promise<CartView>) => ({
    cart: toProtoCart(await view, deps.ttlSeconds),
  });
  const show = (cart: Parameters<typeof viewCart>[0]) => viewCart(cart, clients, logger);

  return {
    async getCart(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      return respond(store.get(req.userId).then(show));
    },

    async addItem(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const { variants } = await clients.catalog.batchGetVariants({ variantIds: [req.variantId] });
      const d = variants[0];
      if (!d?.variant?.price) throw new NotFoundError(`variant ${req.variantId} not found`);
      const now = new Date();
      const info = {
        variantId: d.variant.id,
        productId: d.variant.productId || d.product?.id || "",
        sku: d.variant.sku,
        name: d.product?.name ?? "",
        variantAttributes: { ...d.variant.attributes },
        imageUrl: d.variant.images[0]?.url ?? d.product?.primaryImage?.url ?? "",
        unitPrice: {
          currencyCode: d.variant.price.currencyCode,
          amountMinor: Number(d.variant.price.amountMinor),
        },
        purchasable: d.purchasable,
      };
      const { cart } = await change(() =>
        store.update(req.userId, (c) => addItem(c, info, req.quantity, now)),
      );
      const line = cart.items.find((l) => l.variantId === req.variantId)!;
      deps.events.itemAdded({
        userId: req.userId,
        variantId: req.variantId,
        productId: info.productId,
        quantityAdded: req.quantity,
        lineQuantity: line.quantity,
        unitPrice: info.unitPrice,
        cartItemCount: itemCount(cart),
        at: now,
      });
      return respond(show(cart));
    },

    async updateItem(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const { cart } = await change(() =>
        store.update(req.userId, (c) => updateItem(c, req.variantId, req.quantity, new Date())),
      );
      return respond(show(cart));
    },

    async removeItem(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const { cart } = await store.update(req.userId, (c) =>
        removeItem(c, req.variantId, new Date()),
      );
      return respond(show(cart));
    },

    async clearCart(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const { cart } = await store.update(req.userId, (c) => clearCart(c, new Date()));
      return respond(show(cart));
    },

    async getCartPrice(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const view = await show(await store.get(req.userId));
      const serviceLevel = req.serviceLevel || ServiceLevel.STANDARD;
      const subtotal = view.subtotal ?? { currencyCode: "", amountMinor: 0 };
      let destination: { countryCode: string; postalCode: string; region: string } | undefined;
      if (req.addressId) {
        const { address } = await clients.user.getAddress(
          { userId: req.userId, addressId: req.addressId },
          forwardAuth(ctx),
        );
        const p = address?.postalAddress;
        if (p)
          destination = { countryCode: p.countryCode, postalCode: p.postalCode, region: p.region };
      } else if (req.countryCode) {
        destination = { countryCode: req.countryCode, postalCode: req.postalCode, region: "" };
      }
      const money = (m: { currencyCode: string; amountMinor: number }) => ({
        currencyCode: m.currencyCode,
        amountMinor: BigInt(m.amountMinor),
      });
      const base = {
        subtotal: money(subtotal),
        discount: money({ ...subtotal, amountMinor: 0 }),
        serviceLevel,
        carrierCode: req.carrierCode,
      };
      if (!destination || view.lines.length === 0) {
        return { price: { ...base, total: money(subtotal), estimated: false } };
      }
      const weight = Math.max(
        1,
        view.lines.reduce((w, l) => w + l.weightGrams * l.line.quantity, 0),
      );
      const quote = await clients.shipping
        .quote({
          destinationCountryCode: destination.countryCode,
          destinationPostalCode: destination.postalCode,
          totalWeightGrams: BigInt(weight),
          currencyCode: subtotal.currencyCode,
          serviceLevel,
        })
        .catch((err: unknown) => {
          logger.warn({ err }, "shipping unavailable; cart price without shipping and tax");
          return undefined;
        });
      const option = quote?.options.find(
        (o) =>
          o.serviceLevel === serviceLevel &&
          (!req.carrierCode || o.carrierCode === req.carrierCode),
      );
      if (!option?.price) return { price: { ...base, total: money(subtotal), estimated: false } };
      const shipping = {
        currencyCode: option.price.currencyCode,
        amountMinor: Number(option.price.amountMinor),
      };
      const zero = { ...subtotal, amountMinor: 0 };
      const tax = computeTax(
        subtotal,
        shipping,
        zero,
        taxRuleFor(destination.countryCode, destination.region),
      );
      return {
        price: {
          ...base,
          carrierCode: option.carrierCode,
          estimatedShipping: money(shipping),
          estimatedTax: money(tax),
          total: money({
            ...subtotal,
            amountMinor: subtotal.amountMinor + shipping.amountMinor + tax.amountMinor,
          }),
          estimated: true,
        },
      };
    },

    async checkout(req, ctx) {
      const principal = requireUser(ctx);
      if (principal.subject !== req.userId) {
        throw new PermissionDeniedError("user_id: only the cart's owner can check it out");
      }
      const cart = await store.get(req.userId);
      if (cart.items.length === 0)
        throw new FailedPreconditionError(`cart of user ${req.userId} is empty`);
      const view = await show(cart);
      const blocked = view.lines.find((l) => !l.purchasable);
      if (blocked) {
        throw new FailedPreconditionError(
          `variant ${blocked.line.variantId} is no longer purchasable; remove it first`,
        );
      }
      const auth = forwardAuth(ctx);
      let shippingAddress =
        req.destination.case === "shippingAddress" ? req.destination.value : undefined;
      if (req.destination.case === "addressId") {
        const { address } = await clients.user.getAddress(
          { userId: req.userId, addressId: req.destination.value },
          auth,
        );
        shippingAddress = address?.postalAddress;
      }
      let paymentMethodToken = req.payment.case === "paymentToken" ? req.payment.value : "";
      if (req.payment.case === "paymentMethodId") {
        const token = await clients.user.getPaymentMethodToken(
          { userId: req.userId, paymentMethodId: req.payment.value },
          auth,
        );
        paymentMethodToken = token.gatewayToken;
      }
      const { order } = await clients.order.placeOrder(
        {
          idempotencyKey: checkoutKey(req.idempotencyKey, cart.version),
          userId: req.userId,
          items: cart.items.map((l) => ({ variantId: l.variantId, quantity: l.quantity })),
          ...(shippingAddress ? { shippingAddress } : {}),
          paymentMethodToken,
          serviceLevel: req.serviceLevel,
          carrierCode: req.carrierCode,
          currencyCode: cart.items[0]!.unitPrice.currencyCode,
          ...(req.expectedTotal ? { expectedTotal: req.expectedTotal } : {}),
        },
        { ...auth, timeoutMs: deps.checkoutTimeoutMs },
      );
      return { orderId: order?.id ?? "", ...(order ? { order } : {}) };
    },
  };
}
