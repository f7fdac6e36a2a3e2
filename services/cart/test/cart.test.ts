import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { CartService, StockStatus } from "@shopmesh/gen/shopmesh/cart/v1/cart_pb.js";
import { CartItemAddedSchema } from "@shopmesh/gen/shopmesh/events/v1/cart_events_pb.js";
import { OrderService, OrderStatus } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { Code, type RpcError } from "@shopmesh/platform/errors";
import { decodeEnvelope, unpackPayload } from "@shopmesh/platform/event-envelope";
import { createClient } from "@shopmesh/platform/grpc-client";
import { createKafka } from "@shopmesh/platform/kafka";
import {
  createTestTokens,
  serveTestJwks,
  type TestJwksServer,
} from "@shopmesh/platform/testing/test-tokens";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { Redis } from "ioredis";
import { type FakePeers, startFakePeers, TOKENS } from "../../../test/e2e/support/fake-peers.ts";
import {
  dropTestDatabase,
  type ServiceProcess,
  startServiceProcess,
  waitFor,
} from "../../../test/e2e/support/service-process.ts";

const alice = uuidv7();
const bob = uuidv7();
const prefix = `test-${randomUUID().slice(0, 8)}:`;
const address = {
  fullName: "Alice",
  line1: "1 Main St",
  city: "Berlin",
  postalCode: "10115",
  countryCode: "DE",
};

describe("cart service against Redis, a real order service and fake peers", {
  timeout: 120_000,
}, () => {
  let peers: FakePeers;
  let jwks: TestJwksServer;
  let order: ServiceProcess;
  let cart: ServiceProcess;
  let redis: Redis;
  let client: ReturnType<typeof createClient<typeof CartService>>;
  let orders: ReturnType<typeof createClient<typeof OrderService>>;
  const as: Record<string, { metadata: Record<string, string> }> = {};

  before(async () => {
    peers = await startFakePeers();
    const tokens = await createTestTokens();
    jwks = await serveTestJwks(tokens);
    as.alice = { metadata: { authorization: `Bearer ${await tokens.sign({ sub: alice })}` } };
    as.bob = { metadata: { authorization: `Bearer ${await tokens.sign({ sub: bob })}` } };
    const peerEnv = {
      USER_ADDR: jwks.address,
      CATALOG_ADDR: peers.address,
      INVENTORY_ADDR: peers.address,
      PAYMENT_ADDR: peers.address,
      SHIPPING_ADDR: peers.address,
    };
    order = await startServiceProcess("order", { ...peerEnv, SAGA_SWEEP_INTERVAL_MS: "200" });
    cart = await startServiceProcess("cart", {
      ...peerEnv,
      ORDER_ADDR: order.address,
      REDIS_KEY_PREFIX: prefix,
      PEER_TIMEOUT_MS: "400",
    });
    redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
    client = createClient(CartService, cart.address, { breaker: false, timeoutMs: 10_000 });
    orders = createClient(OrderService, order.address, { breaker: false });
  });

  after(async () => {
    await Promise.all([cart?.kill(), order?.kill()]);
    await jwks?.close();
    await peers?.close();
    if (order) await dropTestDatabase(order.dbName);
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  test("add, update, remove and clear keep totals priced from the catalog", async () => {
    const user = alice;
    const a = peers.addVariant({ priceMinor: 1_000 });
    const b = peers.addVariant({ priceMinor: 250 });
    await client.addItem({ userId: user, variantId: a.id, quantity: 1 }, as.alice);
    await client.addItem({ userId: user, variantId: a.id, quantity: 2 }, as.alice);
    let { cart: c } = await client.addItem(
      { userId: user, variantId: b.id, quantity: 4 },
      as.alice,
    );
    assert.deepEqual(
      c?.items.map((i) => [i.variantId, i.quantity]),
      [
        [a.id, 3],
        [b.id, 4],
      ],
    );
    assert.equal(c?.subtotal?.amountMinor, 4_000n);
    assert.equal(c?.itemCount, 7);
    assert.equal(c?.items[0]?.stockStatus, StockStatus.IN_STOCK);

    a.priceMinor = 1_100;
    ({ cart: c } = await client.getCart({ userId: user }, as.alice));
    assert.equal(c?.items[0]?.priceChanged, true);
    assert.equal(c?.subtotal?.amountMinor, 4_300n);

    ({ cart: c } = await client.updateItem(
      { userId: user, variantId: b.id, quantity: 1 },
      as.alice,
    ));
    assert.equal(c?.items[1]?.quantity, 1);
    ({ cart: c } = await client.removeItem({ userId: user, variantId: b.id }, as.alice));
    assert.equal(c?.items.length, 1);
    ({ cart: c } = await client.removeItem({ userId: user, variantId: b.id }, as.alice));
    assert.equal(c?.items.length, 1, "removing an absent line is OK");
    await assert.rejects(
      client.updateItem({ userId: user, variantId: b.id, quantity: 2 }, as.alice),
      (err: RpcError) => err.code === Code.NOT_FOUND,
    );
    const ttl = await redis.ttl(`${prefix}cart:${user}`);
    assert.ok(ttl > 29 * 24 * 3600 && ttl <= 30 * 24 * 3600, `TTL ${ttl} is about 30 days`);
    ({ cart: c } = await client.clearCart({ userId: user }, as.alice));
    assert.equal(c?.items.length, 0);
    assert.equal(c?.subtotal, undefined);
  });

  test("concurrent adds lose no line and no unit", async () => {
    const variants = Array.from({ length: 12 }, () => peers.addVariant({ priceMinor: 100 }));
    const same = peers.addVariant({ priceMinor: 100 });
    await client.clearCart({ userId: alice }, as.alice);
    // Alice adds from many tabs at once: distinct variants, and the same variant repeatedly.
    await Promise.all([
      ...variants.map((v) =>
        client.addItem({ userId: alice, variantId: v.id, quantity: 1 }, as.alice),
      ),
      ...Array.from({ length: 12 }, () =>
        client.addItem({ userId: alice, variantId: same.id, quantity: 1 }, as.alice),
      ),
    ]);
    const { cart: c } = await client.getCart({ userId: alice }, as.alice);
    assert.equal(c?.items.length, 13);
    assert.equal(c?.items.find((i) => i.variantId === same.id)?.quantity, 12);
    assert.equal(c?.itemCount, 24);
    await client.clearCart({ userId: alice }, as.alice);
  });

  test("a user cannot read or change another user's cart", async () => {
    const v = peers.addVariant({ priceMinor: 100 });
    const denied = (err: RpcError) => err.code === Code.PERMISSION_DENIED;
    await assert.rejects(client.getCart({ userId: alice }, as.bob), denied);
    await assert.rejects(
      client.addItem({ userId: alice, variantId: v.id, quantity: 1 }, as.bob),
      denied,
    );
    await assert.rejects(client.clearCart({ userId: alice }, as.bob), denied);
    await assert.rejects(client.removeItem({ userId: alice, variantId: v.id }, as.bob), denied);
    await assert.rejects(
      client.checkout(
        {
          userId: alice,
          destination: { case: "shippingAddress", value: address },
          payment: { case: "paymentToken", value: TOKENS.ok },
          idempotencyKey: "key-12345678",
        },
        as.bob,
      ),
      denied,
    );
    await assert.rejects(
      client.getCart({ userId: alice }),
      (err: RpcError) => err.code === Code.UNAUTHENTICATED,
    );
  });

  test("with inventory down or hanging the cart still works and marks stock UNVERIFIED", async () => {
    const user = bob;
    const v = peers.addVariant({ priceMinor: 500 });
    for (const mode of ["inventoryDown", "inventoryHangs"] as const) {
      peers.switches[mode] = true;
      try {
        const started = Date.now();
        const { cart: c } = await client.addItem(
          { userId: user, variantId: v.id, quantity: 1 },
          as.bob,
        );
        assert.ok(Date.now() - started < 3_000, `${mode}: answered in ${Date.now() - started} ms`);
        assert.equal(c?.items[0]?.stockStatus, StockStatus.UNVERIFIED, mode);
        assert.equal(c?.subtotal?.amountMinor, BigInt(500 * c!.items[0]!.quantity));
      } finally {
        peers.switches[mode] = false;
      }
    }
    const { cart: c } = await client.getCart({ userId: user }, as.bob);
    assert.equal(c?.items[0]?.stockStatus, StockStatus.IN_STOCK);
    await client.clearCart({ userId: user }, as.bob);
  });

  test("bad input is INVALID_ARGUMENT naming the field; unpurchasable and unknown variants are refused", async () => {
    const v = peers.addVariant({ priceMinor: 100 });
    await assert.rejects(
      client.addItem({ userId: alice, variantId: v.id, quantity: 0 }, as.alice),
      (err: RpcError) => err.code === Code.INVALID_ARGUMENT && /quantity/.test(err.message),
    );
    await assert.rejects(
      client.addItem({ userId: alice, variantId: "nope", quantity: 1 }, as.alice),
      (err: RpcError) => err.code === Code.INVALID_ARGUMENT && /variant_id/.test(err.message),
    );
    await assert.rejects(
      client.getCart({ userId: "me" }, as.alice),
      (err: RpcError) => err.code === Code.INVALID_ARGUMENT && /user_id/.test(err.message),
    );
    const off = peers.addVariant({ priceMinor: 100, purchasable: false });
    await assert.rejects(
      client.addItem({ userId: alice, variantId: off.id, quantity: 1 }, as.alice),
      (err: RpcError) =>
        err.code === Code.FAILED_PRECONDITION && /not purchasable/.test(err.message),
    );
    await assert.rejects(
      client.addItem({ userId: alice, variantId: uuidv7(), quantity: 1 }, as.alice),
      (err: RpcError) => err.code === Code.NOT_FOUND,
    );
  });

  test("prices the cart for a destination with shipping and the destination's tax", async () => {
    const user = bob;
    const v = peers.addVariant({ priceMinor: 10_000 });
    await client.clearCart({ userId: user }, as.bob);
    await client.addItem({ userId: user, variantId: v.id, quantity: 1 }, as.bob);
    const { price } = await client.getCartPrice({ userId: user, countryCode: "DE" }, as.bob);
    assert.equal(price?.estimated, true);
    assert.equal(price?.estimatedShipping?.amountMinor, 499n);
    assert.equal(price?.estimatedTax?.amountMinor, 1_995n); // 19% of 10,000 + 499
    assert.equal(price?.total?.amountMinor, 10_000n + 499n + 1_995n);
    const bare = await client.getCartPrice({ userId: user }, as.bob);
    assert.equal(bare.price?.estimated, false);
    assert.equal(bare.price?.total?.amountMinor, 10_000n);
    await client.clearCart({ userId: user }, as.bob);
  });

  test("checkout places one order per click and the ordered lines leave the cart", async () => {
    const v = peers.addVariant({ priceMinor: 2_000 });
    await client.clearCart({ userId: alice }, as.alice);
    await assert.rejects(
      client.checkout(
        {
          userId: alice,
          destination: { case: "shippingAddress", value: address },
          payment: { case: "paymentToken", value: TOKENS.ok },
          idempotencyKey: "empty-cart-key",
        },
        as.alice,
      ),
      (err: RpcError) => err.code === Code.FAILED_PRECONDITION && /empty/.test(err.message),
    );
    await client.addItem({ userId: alice, variantId: v.id, quantity: 2 }, as.alice);
    const { price } = await client.getCartPrice({ userId: alice, countryCode: "DE" }, as.alice);
    const request = {
      userId: alice,
      destination: { case: "shippingAddress" as const, value: address },
      payment: { case: "paymentToken" as const, value: TOKENS.ok },
      idempotencyKey: `checkout-${randomUUID()}`,
      expectedTotal: price!.total!,
    };
    const [first, second] = await Promise.all([
      client.checkout(request, as.alice),
      client.checkout(request, as.alice),
    ]);
    assert.ok(first.orderId);
    assert.equal(first.orderId, second.orderId, "a double click makes one order");
    assert.equal(
      first.order?.totals?.total?.amountMinor,
      price?.total?.amountMinor,
      "the order charges what the cart quoted",
    );
    await waitFor(
      "cart emptied by order.placed",
      async () => {
        const { cart: c } = await client.getCart({ userId: alice }, as.alice);
        return c?.items.length === 0;
      },
      30_000,
    );
    const { order: placed } = await orders.getOrder({ orderId: first.orderId }, as.alice);
    assert.notEqual(placed?.status, OrderStatus.UNSPECIFIED);
    assert.equal(placed?.items[0]?.quantity, 2);
  });

  test("adding an item publishes cart.item_added keyed by the user", async () => {
    const kafka = createKafka({
      clientId: "cart-test",
      brokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092",
    });
    const consumer = kafka.consumer({ groupId: `cart-test-${randomUUID()}` });
    const seen: { key: string; variantId: string; lineQuantity: number }[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: "carts", fromBeginning: false });
      const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
      await consumer.run({
        eachMessage: async ({ message }) => {
          const envelope = decodeEnvelope(message.value ?? new Uint8Array());
          if (envelope.eventType !== "cart.item_added") return;
          const e = unpackPayload(envelope, CartItemAddedSchema);
          seen.push({
            key: message.key?.toString() ?? "",
            variantId: e.variantId,
            lineQuantity: e.lineQuantity,
          });
        },
      });
      await joined;
      const v = peers.addVariant({ priceMinor: 700 });
      // The group starts at the end of the log once its partitions are assigned: keep adding
      // until one of the events arrives, then check what it says.
      const event = await waitFor(
        "cart.item_added consumed",
        async () => {
          await client.addItem({ userId: bob, variantId: v.id, quantity: 1 }, as.bob);
          return seen.find((e) => e.variantId === v.id);
        },
        30_000,
      );
      assert.equal(event.key, bob);
      assert.ok(event.lineQuantity >= 1);
    } finally {
      await consumer.disconnect();
      await client.clearCart({ userId: bob }, as.bob);
    }
  });
});
