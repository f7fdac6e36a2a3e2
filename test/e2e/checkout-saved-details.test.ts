import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { CartService } from "@shopmesh/gen/shopmesh/cart/v1/cart_pb.js";
import { OrderService, OrderStatus } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { PaymentService } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { Code, type RpcError } from "@shopmesh/platform/errors";
import { createClient } from "@shopmesh/platform/grpc-client";
import { Redis } from "ioredis";
import { exportJWK, generateKeyPair } from "jose";
import { type FakePeers, startFakePeers } from "./support/fake-peers.ts";
import { freePort } from "./support/free-port.ts";
import {
  dropTestDatabase,
  type ServiceProcess,
  startServiceProcess,
  waitFor,
} from "./support/service-process.ts";

describe("checkout with a saved address and a saved card, through the real user service", {
  timeout: 120_000,
}, () => {
  let peers: FakePeers;
  const procs: Record<string, ServiceProcess> = {};
  const prefix = `saved-${randomUUID().slice(0, 8)}:`;

  before(async () => {
    peers = await startFakePeers();
    const { publicKey } = await generateKeyPair("RSA-OAEP-256", { modulusLength: 2048 });
    const notificationJwk = {
      ...(await exportJWK(publicKey)),
      alg: "RSA-OAEP-256",
      use: "enc",
      kid: "test-notification",
    };
    const [userPort, paymentPort] = await Promise.all([freePort(), freePort()]);
    const userAddr = `127.0.0.1:${userPort}`;
    const paymentAddr = `127.0.0.1:${paymentPort}`;
    const [user, payment] = await Promise.all([
      startServiceProcess("user", {
        GRPC_PORT: String(userPort),
        PAYMENT_ADDR: paymentAddr,
        NOTIFICATION_PUBLIC_JWK: JSON.stringify(notificationJwk),
        PASSWORD_SCRYPT_N: "16384",
      }),
      startServiceProcess("payment", { GRPC_PORT: String(paymentPort), USER_ADDR: userAddr }),
    ]);
    Object.assign(procs, { user, payment });
    const peerEnv = {
      USER_ADDR: userAddr,
      PAYMENT_ADDR: paymentAddr,
      CATALOG_ADDR: peers.address,
      INVENTORY_ADDR: peers.address,
      SHIPPING_ADDR: peers.address,
    };
    procs.order = await startServiceProcess("order", { ...peerEnv, SAGA_SWEEP_INTERVAL_MS: "200" });
    procs.cart = await startServiceProcess("cart", {
      ...peerEnv,
      ORDER_ADDR: procs.order.address,
      REDIS_KEY_PREFIX: prefix,
    });
  });

  after(async () => {
    await Promise.all(Object.values(procs).map((p) => p.kill()));
    await peers?.close();
    await Promise.all(
      ["user", "payment", "order"]
        .filter((n) => procs[n])
        .map((n) => dropTestDatabase(procs[n]!.dbName)),
    );
    const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  test("the cart resolves the saved address and card; another user's saved address is refused", async () => {
    const client = <S extends Parameters<typeof createClient>[0]>(service: S, name: string) =>
      createClient(service, procs[name]!.address, { breaker: false, timeoutMs: 10_000 });
    const users = client(UserService, "user");
    const payments = client(PaymentService, "payment");
    const carts = client(CartService, "cart");
    const orders = client(OrderService, "order");

    const register = async (name: string) => {
      const { user, tokens } = await users.register({
        email: `${name}-${randomUUID().slice(0, 8)}@example.com`,
        password: "correct horse battery staple",
        name,
      });
      return {
        id: user!.id,
        auth: { metadata: { authorization: `Bearer ${tokens!.accessToken}` } },
      };
    };
    const jo = await register("jo");
    const sam = await register("sam");

    const { address } = await users.addAddress(
      {
        userId: jo.id,
        address: {
          label: "Home",
          postalAddress: {
            fullName: "Jo",
            line1: "5 Rue de Rivoli",
            city: "Paris",
            postalCode: "75001",
            countryCode: "FR",
          },
        },
      },
      jo.auth,
    );
    const { address: samsAddress } = await users.addAddress(
      {
        userId: sam.id,
        address: {
          postalAddress: {
            fullName: "Sam",
            line1: "1 Main St",
            city: "Austin",
            postalCode: "78701",
            countryCode: "US",
          },
        },
      },
      sam.auth,
    );
    const { token } = await payments.tokenizeCard(
      {
        cardNumber: "5555555555554444",
        expMonth: 11,
        expYear: 2039,
        cvc: "321",
        cardholderName: "Jo",
      },
      jo.auth,
    );
    const { paymentMethod } = await users.addPaymentMethod(
      { userId: jo.id, gatewayToken: token },
      jo.auth,
    );

    const v = peers.addVariant({ priceMinor: 4_000, currency: "EUR" });
    await carts.addItem({ userId: jo.id, variantId: v.id, quantity: 1 }, jo.auth);
    const { price } = await carts.getCartPrice({ userId: jo.id, addressId: address!.id }, jo.auth);
    assert.equal(
      price?.estimatedTax?.amountMinor,
      900n,
      "French VAT 20% on 4,000 + 499 shipping, rounded",
    );

    await assert.rejects(
      carts.checkout(
        {
          userId: jo.id,
          destination: { case: "addressId", value: samsAddress!.id },
          payment: { case: "paymentMethodId", value: paymentMethod!.id },
          idempotencyKey: `saved-${randomUUID()}`,
        },
        jo.auth,
      ),
      (err: RpcError) => err.code === Code.NOT_FOUND || err.code === Code.PERMISSION_DENIED,
    );

    const { orderId, order } = await carts.checkout(
      {
        userId: jo.id,
        destination: { case: "addressId", value: address!.id },
        payment: { case: "paymentMethodId", value: paymentMethod!.id },
        idempotencyKey: `saved-${randomUUID()}`,
        expectedTotal: price!.total!,
      },
      jo.auth,
    );
    assert.equal(order?.shippingAddress?.city, "Paris");
    assert.equal(order?.totals?.total?.amountMinor, price?.total?.amountMinor);
    const shipped = await waitFor("order SHIPPED", async () => {
      const { order: o } = await orders.getOrder({ orderId }, jo.auth);
      return o?.status === OrderStatus.SHIPPED ? o : undefined;
    });
    assert.equal(shipped.payment?.card?.last4, "4444");
    await waitFor(
      "cart emptied",
      async () => {
        const { cart } = await carts.getCart({ userId: jo.id }, jo.auth);
        return cart?.items.length === 0;
      },
      30_000,
    );
  });
});
