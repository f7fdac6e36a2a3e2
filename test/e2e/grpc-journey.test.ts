import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CartService } from "@shopmesh/gen/shopmesh/cart/v1/cart_pb.js";
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import {
  AdjustmentReason,
  InventoryService,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import {
  OrderService,
  OrderStatus,
  PaymentState,
} from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { PaymentService } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import {
  type RealShop,
  startRealShop,
  verificationCode,
  waitFor,
  waitForMail,
} from "./support/real-shop.ts";

/**
 * The whole shopping journey driven only through plain gRPC, straight to each service, with a
 * client this project did not write (connect-node's gRPC transport over HTTP/2) and the
 * published contracts from gen/ — what a partner's backend would do.
 */
describe("the shopping journey over gRPC against the real services", { timeout: 180_000 }, () => {
  let shop: RealShop;
  const run = randomUUID().slice(0, 8);

  /** A gRPC client of `service` at its real address, sending `token` as a bearer token. */
  function grpc<S extends DescService>(
    service: S,
    address: string,
    token?: () => string | undefined,
  ): Client<S> {
    const transport = createGrpcTransport({
      baseUrl: `http://${address}`,
      interceptors: [
        (next) => (req) => {
          const value = token?.();
          if (value) req.header.set("authorization", `Bearer ${value}`);
          return next(req);
        },
      ],
    });
    return createClient(service, transport);
  }

  /** The gRPC code of a refused call (fails the test when the call succeeded). */
  async function refusal(call: Promise<unknown>): Promise<Code> {
    try {
      await call;
    } catch (err) {
      return ConnectError.from(err).code;
    }
    assert.fail("the call was expected to be refused");
  }

  before(async () => {
    shop = await startRealShop({ shippingAdvanceMs: 600 });
  });
  after(async () => {
    await shop?.stop();
  });

  test("register, verify, log in, browse, add two products, checkout, paid, shipped, delivered, with the emails", async () => {
    const at = (name: keyof RealShop["services"]) => shop.services[name].address;
    let token: string | undefined;
    const as = () => token;
    const user = grpc(UserService, at("user"), as);
    const catalog = grpc(CatalogService, at("catalog"), as);
    const inventory = grpc(InventoryService, at("inventory"), as);
    const cart = grpc(CartService, at("cart"), as);
    const order = grpc(OrderService, at("order"), as);
    const payment = grpc(PaymentService, at("payment"), as);

    // The admin lists two products of a brand only this run uses, and stocks them.
    const adminToken = (await user.login(shop.admin)).tokens!.accessToken;
    token = adminToken;
    const brand = `Grpc-${run}`;
    const variants: string[] = [];
    for (const [name, price] of [
      ["Field Lantern", 4_500],
      ["Rope Coil", 1_500],
    ] as const) {
      const slug = `${name.toLowerCase().replace(" ", "-")}-${run}`;
      const { product } = await catalog.createProduct({
        product: {
          name,
          slug,
          brand,
          active: true,
          variants: [
            {
              sku: `SKU-${slug}`,
              price: { currencyCode: "USD", amountMinor: BigInt(price) },
              weightGrams: 400,
              active: true,
            },
          ],
        },
      });
      variants.push(product!.variants[0]!.id);
      await inventory.adjustStock({
        variantId: product!.variants[0]!.id,
        change: { case: "setOnHand", value: 10 },
        reason: AdjustmentReason.INITIAL,
        idempotencyKey: `grpc-${slug}`,
      });
    }

    // Register, verify with the code mailed to the SMTP sink, log in.
    token = undefined;
    const email = `grpc-shopper+${run}@shopmesh.test`;
    const password = `grpc-${run}-correct-horse`;
    const { user: registered } = await user.register({ email, password, name: "Grace Shopper" });
    assert.equal(registered?.emailVerified, false);
    assert.equal(
      await refusal(user.verifyEmail({ email, code: "000000" })),
      Code.InvalidArgument,
      "a wrong code is refused",
    );
    await user.verifyEmail({ email, code: await verificationCode(email) });
    await waitForMail(email, /welcome/i);
    const login = await user.login({ email, password });
    token = login.tokens!.accessToken;
    const userId = login.user!.id;
    assert.equal(login.user?.emailVerified, true);

    // Browse: the brand filter finds exactly this run's two products.
    const listed = await catalog.listProducts({ brands: [brand], page: { pageSize: 10 } });
    assert.deepEqual(listed.products.map((p) => p.brand).sort(), [brand, brand]);

    // Two products in the cart, then checkout with a tokenized test card.
    await cart.addItem({ userId, variantId: variants[0]!, quantity: 1 });
    const { cart: filled } = await cart.addItem({ userId, variantId: variants[1]!, quantity: 2 });
    assert.equal(filled?.items.length, 2);
    assert.equal(filled?.subtotal?.amountMinor, 7_500n);
    const card = await payment.tokenizeCard({
      cardNumber: "4242424242424242",
      expMonth: 12,
      expYear: 2040,
      cvc: "123",
      cardholderName: "Grace Shopper",
    });
    const checkout = await cart.checkout({
      userId,
      destination: {
        case: "shippingAddress",
        value: {
          fullName: "Grace Shopper",
          line1: "1 Harbour St",
          city: "Austin",
          region: "TX",
          postalCode: "78701",
          countryCode: "US",
        },
      },
      payment: { case: "paymentToken", value: card.token },
      idempotencyKey: `grpc-checkout-${run}`,
    });
    const orderId = checkout.orderId;

    const delivered = await waitFor(
      "order DELIVERED",
      async () => {
        const { order: o } = await order.getOrder({ orderId });
        assert.notEqual(o?.status, OrderStatus.CANCELLED, JSON.stringify(o?.cancellation));
        return o?.status === OrderStatus.DELIVERED ? o : undefined;
      },
      90_000,
    );
    assert.deepEqual(
      delivered.statusHistory.map((h) => OrderStatus[h.status]),
      ["PENDING", "STOCK_RESERVED", "PAID", "CONFIRMED", "SHIPPED", "DELIVERED"],
    );
    assert.equal(delivered.paymentState, PaymentState.CHARGED);
    assert.equal(delivered.items.length, 2);
    token = adminToken;
    const { stock } = await inventory.getStock({ variantId: variants[1]! });
    assert.equal(stock?.onHand, 8, "the shipped units left the shelf");
    token = login.tokens!.accessToken;

    // Every step of the journey reached the shopper's mailbox at the SMTP sink.
    for (const subject of [/is confirmed/, /has shipped/, /was delivered/]) {
      await waitForMail(email, subject);
    }
    const { cart: emptied } = await cart.getCart({ userId });
    assert.equal(emptied?.items.length ?? 0, 0, "the placed order emptied the cart");

    // Another customer sees none of it.
    token = undefined;
    const other = `grpc-other+${run}@shopmesh.test`;
    await user.register({ email: other, password, name: "Other" });
    await user.verifyEmail({ email: other, code: await verificationCode(other) });
    token = (await user.login({ email: other, password })).tokens!.accessToken;
    assert.equal(await refusal(cart.getCart({ userId })), Code.PermissionDenied);
    assert.equal(await refusal(order.getOrder({ orderId })), Code.NotFound);
  });
});
