import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { CartService } from "@shopmesh/gen/shopmesh/cart/v1/cart_pb.js";
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import {
  AdjustmentReason,
  InventoryService,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import {
  CancellationReason,
  OrderService,
  OrderStatus,
  PaymentState,
} from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { PaymentService } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { ShipmentStatus, ShippingService } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { createClient } from "@shopmesh/platform/grpc-client";
import {
  createTestTokens,
  serveTestJwks,
  type TestJwksServer,
} from "@shopmesh/platform/testing/test-tokens";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { Redis } from "ioredis";
import {
  dropTestDatabase,
  type ServiceProcess,
  startServiceProcess,
  waitFor,
} from "./support/service-process.ts";

const address = {
  fullName: "Jo Shopper",
  line1: "1 Congress Ave",
  city: "Austin",
  region: "TX",
  postalCode: "78701",
  countryCode: "US",
};

describe("the whole checkout journey across real services", { timeout: 150_000 }, () => {
  let jwks: TestJwksServer;
  const procs: Record<string, ServiceProcess> = {};
  const prefix = `journey-${randomUUID().slice(0, 8)}:`;
  const shopper = uuidv7();
  const as: Record<"shopper" | "admin", { metadata: Record<string, string> }> = {} as never;

  before(async () => {
    const tokens = await createTestTokens();
    jwks = await serveTestJwks(tokens);
    as.shopper = { metadata: { authorization: `Bearer ${await tokens.sign({ sub: shopper })}` } };
    as.admin = {
      metadata: {
        authorization: `Bearer ${await tokens.sign({ sub: uuidv7(), roles: ["customer", "admin"] })}`,
      },
    };
    const env = { USER_ADDR: jwks.address };
    const [catalog, inventory, payment, shipping] = await Promise.all(
      ["catalog", "inventory", "payment", "shipping"].map((name) =>
        // The "hang" test card keeps Charge waiting 6 s, then charges anyway.
        startServiceProcess(
          name,
          name === "payment" ? { ...env, PAYMENT_GATEWAY_HANG_MS: "6000" } : env,
        ),
      ),
    );
    Object.assign(procs, { catalog, inventory, payment, shipping });
    const peers = {
      ...env,
      CATALOG_ADDR: catalog!.address,
      INVENTORY_ADDR: inventory!.address,
      PAYMENT_ADDR: payment!.address,
      SHIPPING_ADDR: shipping!.address,
    };
    procs.order = await startServiceProcess("order", {
      ...peers,
      SAGA_SWEEP_INTERVAL_MS: "200",
      PEER_TIMEOUT_MS: "1500",
      SAGA_PAYMENT_TIMEOUT_MS: "3000",
      SAGA_MAX_BACKOFF_MS: "1000",
    });
    procs.cart = await startServiceProcess("cart", {
      ...peers,
      ORDER_ADDR: procs.order.address,
      REDIS_KEY_PREFIX: prefix,
    });
  });

  after(async () => {
    await Promise.all(Object.values(procs).map((p) => p.kill()));
    await jwks?.close();
    await Promise.all(
      Object.values(procs)
        .filter((p) => p.name !== "cart")
        .map((p) => dropTestDatabase(p.dbName)),
    );
    const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  test("browse, cart, checkout, pay, ship, deliver; a declined card gives the stock back", async () => {
    const client = <S extends Parameters<typeof createClient>[0]>(service: S, name: string) =>
      createClient(service, procs[name]!.address, { breaker: false, timeoutMs: 10_000 });
    const catalog = client(CatalogService, "catalog");
    const inventory = client(InventoryService, "inventory");
    const payment = client(PaymentService, "payment");
    const shipping = client(ShippingService, "shipping");
    const orders = client(OrderService, "order");
    const cart = client(CartService, "cart");

    const slug = `journey-mug-${randomUUID().slice(0, 8)}`;
    const { product } = await catalog.createProduct(
      {
        product: {
          name: "Journey Mug",
          slug,
          active: true,
          variants: [
            {
              sku: `MUG-${slug}`,
              price: { currencyCode: "USD", amountMinor: 2_500n },
              weightGrams: 400,
              active: true,
            },
          ],
        },
      },
      as.admin,
    );
    const variantId = product!.variants[0]!.id;
    await inventory.adjustStock(
      {
        variantId,
        change: { case: "setOnHand", value: 10 },
        reason: AdjustmentReason.INITIAL,
        idempotencyKey: `stock-${variantId}`,
      },
      as.admin,
    );

    await cart.addItem({ userId: shopper, variantId, quantity: 2 }, as.shopper);
    const { price } = await cart.getCartPrice({ userId: shopper, countryCode: "US" }, as.shopper);
    assert.equal(price?.subtotal?.amountMinor, 5_000n);
    assert.equal(price?.estimated, true);
    const { token } = await payment.tokenizeCard(
      {
        cardNumber: "4242424242424242",
        expMonth: 12,
        expYear: 2040,
        cvc: "123",
        cardholderName: "Jo",
      },
      as.shopper,
    );
    const { order: placed } = await cart.checkout(
      {
        userId: shopper,
        destination: { case: "shippingAddress", value: address },
        payment: { case: "paymentToken", value: token },
        idempotencyKey: `journey-${randomUUID()}`,
      },
      as.shopper,
    );
    assert.ok(placed);
    assert.equal(placed.totals?.tax?.amountMinor, 313n, "Texas 6.25% on 5,000"); // 312.5 rounds up

    const shippedOrder = await waitFor("order SHIPPED", async () => {
      const { order } = await orders.getOrder({ orderId: placed.id }, as.shopper);
      return order?.status === OrderStatus.SHIPPED ? order : undefined;
    });
    assert.equal(shippedOrder.paymentState, PaymentState.CHARGED);
    await waitFor(
      "cart emptied by order.placed",
      async () => {
        const { cart: c } = await cart.getCart({ userId: shopper }, as.shopper);
        return c?.items.length === 0;
      },
      30_000,
    );
    const { stock } = await inventory.getStock({ variantId }, as.admin);
    assert.equal(stock?.available, 8);

    const { shipment } = await shipping.getShipmentByOrder({ orderId: placed.id }, as.shopper);
    for (const status of [
      ShipmentStatus.PICKED_UP,
      ShipmentStatus.IN_TRANSIT,
      ShipmentStatus.OUT_FOR_DELIVERY,
      ShipmentStatus.DELIVERED,
    ]) {
      await shipping.advanceShipment({ shipmentId: shipment!.id, status }, as.admin);
    }
    const delivered = await waitFor(
      "order DELIVERED (shipment.status_updated)",
      async () => {
        const { order } = await orders.getOrder({ orderId: placed.id }, as.shopper);
        return order?.status === OrderStatus.DELIVERED ? order : undefined;
      },
      45_000,
    );
    assert.deepEqual(
      delivered.statusHistory.map((h) => OrderStatus[h.status]),
      ["PENDING", "STOCK_RESERVED", "PAID", "CONFIRMED", "SHIPPED", "DELIVERED"],
    );
    const tracking = await orders.trackOrder({ orderId: placed.id }, as.shopper);
    assert.ok(tracking.trackingEvents.length >= 4);

    // A declined card: the order is cancelled and its stock comes back.
    const declinedCard = await payment.tokenizeCard(
      {
        cardNumber: "4000000000000002",
        expMonth: 12,
        expYear: 2040,
        cvc: "123",
        cardholderName: "Jo",
      },
      as.shopper,
    );
    await cart.addItem({ userId: shopper, variantId, quantity: 3 }, as.shopper);
    const { order: declined } = await cart.checkout(
      {
        userId: shopper,
        destination: { case: "shippingAddress", value: address },
        payment: { case: "paymentToken", value: declinedCard.token },
        idempotencyKey: `journey-${randomUUID()}`,
      },
      as.shopper,
    );
    const cancelled = await waitFor("declined order CANCELLED", async () => {
      const { order } = await orders.getOrder({ orderId: declined!.id }, as.shopper);
      return order?.status === OrderStatus.CANCELLED ? order : undefined;
    });
    assert.equal(cancelled.cancellation?.reason, CancellationReason.PAYMENT_DECLINED);
    await waitFor("stock released", async () => {
      const { stock: s } = await inventory.getStock({ variantId }, as.admin);
      return s?.available === 8 && s.reserved === 0;
    });
  });

  test("a payment service that never answers is compensated, and nothing stays charged", async () => {
    const client = <S extends Parameters<typeof createClient>[0]>(service: S, name: string) =>
      createClient(service, procs[name]!.address, { breaker: false, timeoutMs: 10_000 });
    const catalog = client(CatalogService, "catalog");
    const inventory = client(InventoryService, "inventory");
    const payment = client(PaymentService, "payment");
    const orders = client(OrderService, "order");
    const slug = `frozen-${randomUUID().slice(0, 8)}`;
    const { product } = await catalog.createProduct(
      {
        product: {
          name: "Frozen",
          slug,
          active: true,
          variants: [
            {
              sku: `F-${slug}`,
              price: { currencyCode: "USD", amountMinor: 1_000n },
              weightGrams: 100,
              active: true,
            },
          ],
        },
      },
      as.admin,
    );
    const variantId = product!.variants[0]!.id;
    await inventory.adjustStock(
      {
        variantId,
        change: { case: "setOnHand", value: 5 },
        reason: AdjustmentReason.INITIAL,
        idempotencyKey: `stock-${variantId}`,
      },
      as.admin,
    );
    const { token } = await payment.tokenizeCard(
      {
        cardNumber: "4242424242424242",
        expMonth: 12,
        expYear: 2040,
        cvc: "123",
        cardholderName: "Frozen",
      },
      as.shopper,
    );
    // SIGSTOP: the payment process keeps its sockets open and answers nothing, like a hung pod.
    const paymentPid = procs.payment!.child.pid!;
    process.kill(paymentPid, "SIGSTOP");
    let order: Awaited<ReturnType<typeof orders.getOrder>>["order"];
    try {
      const { order: placed } = await orders.placeOrder(
        {
          idempotencyKey: `frozen-${randomUUID()}`,
          userId: shopper,
          items: [{ variantId, quantity: 1 }],
          shippingAddress: address,
          paymentMethodToken: token,
          currencyCode: "USD",
        },
        as.shopper,
      );
      order = await waitFor("order CANCELLED by the payment timeout", async () => {
        const { order: o } = await orders.getOrder({ orderId: placed!.id }, as.shopper);
        return o?.status === OrderStatus.CANCELLED ? o : undefined;
      });
      assert.equal(order.cancellation?.reason, CancellationReason.PAYMENT_TIMEOUT);
      await waitFor("stock released while payment is frozen", async () => {
        const { stock } = await inventory.getStock({ variantId }, as.admin);
        return stock?.available === 5 && stock.reserved === 0;
      });
    } finally {
      process.kill(paymentPid, "SIGCONT");
    }
    // Payment wakes up and may process the queued charge: the saga must then refund it.
    await waitFor(
      "payment settled: never charged, or charged and refunded",
      async () => {
        const { order: o } = await orders.getOrder({ orderId: order!.id }, as.shopper);
        const found = await payment
          .getPaymentByOrder({ orderId: order!.id }, as.shopper)
          .catch(() => undefined);
        const p = found?.payment;
        if (!p) return o?.paymentState === PaymentState.NOT_CHARGED;
        return (
          o?.paymentState === PaymentState.REFUNDED &&
          p.refundedAmount?.amountMinor === p.amount?.amountMinor
        );
      },
      45_000,
    );
  });
});
