import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
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
import { createClient } from "@shopmesh/platform/grpc-client";
import {
  createTestTokens,
  serveTestJwks,
  type TestJwksServer,
  type TestTokens,
} from "@shopmesh/platform/testing/test-tokens";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { type FakePeers, startFakePeers } from "./support/fake-peers.ts";
import {
  dropTestDatabase,
  type ServiceProcess,
  startServiceProcess,
  waitFor,
} from "./support/service-process.ts";

const SHOPPERS = 200;
const STOCK = 10;
const SETTLED = new Set([
  OrderStatus.CONFIRMED,
  OrderStatus.SHIPPED,
  OrderStatus.DELIVERED,
  OrderStatus.CANCELLED,
]);

/**
 * No oversell through the whole checkout: 200 different shoppers check out the last 10 units of
 * one variant at the same moment, against the real order, inventory and payment services.
 */
describe("no oversell: 200 concurrent checkouts for a variant with stock 10", {
  timeout: 150_000,
}, () => {
  let peers: FakePeers;
  let tokens: TestTokens;
  let jwks: TestJwksServer;
  const procs: ServiceProcess[] = [];

  before(async () => {
    peers = await startFakePeers();
    tokens = await createTestTokens();
    jwks = await serveTestJwks(tokens);
    const env = { USER_ADDR: jwks.address };
    const [inventory, payment] = await Promise.all([
      startServiceProcess("inventory", env),
      startServiceProcess("payment", env),
    ]);
    procs.push(inventory!, payment!);
    procs.push(
      await startServiceProcess("order", {
        ...env,
        CATALOG_ADDR: peers.address,
        SHIPPING_ADDR: peers.address,
        INVENTORY_ADDR: inventory!.address,
        PAYMENT_ADDR: payment!.address,
        SAGA_CONCURRENCY: "64",
        SAGA_SWEEP_INTERVAL_MS: "200",
      }),
    );
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    for (const p of procs) await dropTestDatabase(p.dbName);
    await jwks?.close();
    await peers?.close();
  });

  test("exactly 10 orders are confirmed, 190 cancel out of stock, and the stock adds up", async () => {
    const [inventoryProc, paymentProc, orderProc] = procs;
    const inventory = createClient(InventoryService, inventoryProc!.address, { timeoutMs: 10_000 });
    const payment = createClient(PaymentService, paymentProc!.address, { timeoutMs: 10_000 });
    const orders = createClient(OrderService, orderProc!.address, { timeoutMs: 10_000 });
    const bearer = async (sub: string, roles = ["customer"]) => ({
      metadata: { authorization: `Bearer ${await tokens.sign({ sub, roles })}` },
    });
    const admin = await bearer(uuidv7(), ["customer", "admin"]);

    const variant = peers.addVariant({ priceMinor: 2_999 }, 0);
    await inventory.adjustStock(
      {
        variantId: variant.id,
        change: { case: "setOnHand", value: STOCK },
        reason: AdjustmentReason.INITIAL,
        idempotencyKey: `oversell-${variant.id}`,
      },
      admin,
    );
    const shoppers = await Promise.all(
      Array.from({ length: SHOPPERS }, async () => {
        const id = uuidv7();
        return { id, auth: await bearer(id) };
      }),
    );
    const { token } = await payment.tokenizeCard(
      { cardNumber: "4242424242424242", expMonth: 12, expYear: 2040, cvc: "123" },
      shoppers[0]!.auth,
    );

    const placed = await Promise.all(
      shoppers.map(async (shopper) => {
        const { order } = await orders.placeOrder(
          {
            idempotencyKey: `oversell-${randomUUID()}`,
            userId: shopper.id,
            items: [{ variantId: variant.id, quantity: 1 }],
            shippingAddress: {
              fullName: "Last Unit",
              line1: "1 Main St",
              city: "Austin",
              region: "TX",
              postalCode: "78701",
              countryCode: "US",
            },
            paymentMethodToken: token,
            currencyCode: "USD",
          },
          shopper.auth,
        );
        return { shopper, orderId: order!.id };
      }),
    );
    assert.equal(new Set(placed.map((p) => p.orderId)).size, SHOPPERS, "one order per shopper");

    const settled = await waitFor(
      "every order settled",
      async () => {
        const all = await Promise.all(
          placed.map(
            async (p) => (await orders.getOrder({ orderId: p.orderId }, p.shopper.auth)).order!,
          ),
        );
        return all.every((o) => SETTLED.has(o.status)) ? all : undefined;
      },
      120_000,
    );

    const won = settled.filter((o) => o.status !== OrderStatus.CANCELLED);
    const lost = settled.filter((o) => o.status === OrderStatus.CANCELLED);
    assert.equal(won.length, STOCK, "exactly as many orders as units went through");
    assert.equal(lost.length, SHOPPERS - STOCK);
    for (const o of won) assert.equal(o.paymentState, PaymentState.CHARGED);
    for (const o of lost) {
      assert.equal(o.cancellation?.reason, CancellationReason.OUT_OF_STOCK, o.id);
      assert.equal(o.paymentState, PaymentState.NOT_CHARGED, `${o.id} was never charged`);
    }

    const { stock } = await inventory.getStock({ variantId: variant.id }, admin);
    assert.ok(stock);
    assert.equal(stock.onHand, STOCK, "nothing has shipped from the shelf yet");
    assert.equal(stock.reserved, 0, "no order still holds a reservation");
    assert.equal(stock.committed, STOCK, "the confirmed orders' units are committed");
    assert.equal(stock.available, 0);
    for (const n of [stock.onHand, stock.reserved, stock.committed, stock.available]) {
      assert.ok(n >= 0, "no stock figure is negative");
    }
  });
});
