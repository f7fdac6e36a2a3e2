import { createHash } from "node:crypto";
import type { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import type { PlaceOrderRequest } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import {
  ServiceLevel,
  type ShippingService,
} from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { FailedPreconditionError } from "@shopmesh/platform/errors";
import type { Client } from "@shopmesh/platform/grpc-client";
import type { OrderItem, OrderTotals } from "./domain/order.ts";
import {
  computeTotals,
  PricingError,
  priceLines,
  totalWeightGrams,
  type VariantSnapshot,
} from "./domain/pricing.ts";
import { taxRuleFor } from "./domain/tax.ts";
import { fromProtoMoney } from "./proto-mapping.ts";

/** The peers PlaceOrder reads from before it writes anything. */
export interface QuoteClients {
  catalog: Client<typeof CatalogService>;
  shipping: Client<typeof ShippingService>;
}

/** A priced, quoted order, ready for the domain's placeOrder. */
export interface PricedOrder {
  items: OrderItem[];
  totals: OrderTotals;
  serviceLevel: ServiceLevel;
  carrierCode: string;
}

/**
 * Fingerprint of what a PlaceOrder request asks for, so a retry with the same idempotency key
 * can be told apart from a different order reusing it. Lines are sorted (their order does not
 * change the order); the token is hashed so it is never stored twice in clear.
 */
export function requestHash(req: PlaceOrderRequest): string {
  const a = req.shippingAddress;
  const canonical = JSON.stringify({
    items: [...req.items].map((i) => [i.variantId, i.quantity]).sort(),
    address: a
      ? [a.fullName, a.line1, a.line2, a.city, a.region, a.postalCode, a.countryCode, a.phone]
      : null,
    token: req.paymentMethodToken,
    level: req.serviceLevel || ServiceLevel.STANDARD,
    carrier: req.carrierCode,
    currency: req.currencyCode,
    expected: req.expectedTotal
      ? [req.expectedTotal.currencyCode, String(req.expectedTotal.amountMinor)]
      : null,
  });
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * Prices a PlaceOrder request from the catalog, quotes its shipping and computes tax:
 * everything server-side, nothing from the client but variant ids and quantities. Throws
 * FAILED_PRECONDITION for unpurchasable lines, a foreign currency, no shipping option, or a
 * total that moved away from expected_total.
 */
export async function priceOrder(
  req: PlaceOrderRequest,
  clients: QuoteClients,
): Promise<PricedOrder> {
  const { variants } = await clients.catalog.batchGetVariants({
    variantIds: req.items.map((i) => i.variantId),
  });
  const snapshots = new Map<string, VariantSnapshot>();
  for (const d of variants) {
    const v = d.variant;
    if (!v) continue;
    snapshots.set(v.id, {
      variantId: v.id,
      productId: v.productId || d.product?.id || "",
      sku: v.sku,
      name: d.product?.name ?? "",
      variantAttributes: { ...v.attributes },
      imageUrl: v.images[0]?.url ?? d.product?.primaryImage?.url ?? "",
      unitPrice: fromProtoMoney(v.price),
      weightGrams: v.weightGrams,
      purchasable: d.purchasable,
    });
  }
  let items: OrderItem[];
  try {
    items = priceLines(req.items, snapshots, req.currencyCode);
  } catch (err) {
    if (err instanceof PricingError) throw new FailedPreconditionError(err.message);
    throw err;
  }

  const address = req.shippingAddress!;
  const serviceLevel = req.serviceLevel || ServiceLevel.STANDARD;
  const { options } = await clients.shipping.quote({
    destinationCountryCode: address.countryCode,
    destinationPostalCode: address.postalCode,
    totalWeightGrams: BigInt(totalWeightGrams(items)),
    currencyCode: req.currencyCode,
    serviceLevel,
  });
  const option = options.find(
    (o) =>
      o.serviceLevel === serviceLevel && (!req.carrierCode || o.carrierCode === req.carrierCode),
  );
  if (!option?.price) {
    throw new FailedPreconditionError(
      `carrier_code: no ${ServiceLevel[serviceLevel]} shipping option${req.carrierCode ? ` from ${req.carrierCode}` : ""} to ${address.countryCode}`,
    );
  }
  const shipping = fromProtoMoney(option.price, req.currencyCode);
  if (shipping.currencyCode !== req.currencyCode) {
    throw new FailedPreconditionError(
      `currency_code: shipping is quoted in ${shipping.currencyCode}, not ${req.currencyCode}`,
    );
  }
  const totals = computeTotals(items, shipping, taxRuleFor(address.countryCode, address.region));

  const expected = req.expectedTotal;
  if (
    expected &&
    (BigInt(totals.total.amountMinor) !== expected.amountMinor ||
      (expected.currencyCode !== "" && expected.currencyCode !== req.currencyCode))
  ) {
    throw new FailedPreconditionError(
      `expected_total: the order totals ${totals.total.amountMinor} ${req.currencyCode}, not ${expected.amountMinor} ${expected.currencyCode || req.currencyCode}; prices or shipping changed`,
    );
  }
  return { items, totals, serviceLevel, carrierCode: option.carrierCode };
}
