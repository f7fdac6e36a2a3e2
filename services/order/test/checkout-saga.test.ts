import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate, timestampMs } from "@bufbuild/protobuf/wkt";
import { ReservationStatus } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import {
  CancellationReason,
  type Order,
  OrderService,
  OrderStatus,
  PaymentState,
  type PlaceOrderRequestSchema,
} from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { PaymentStatus } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { ShipmentStatus } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { Code, type RpcError } from "@shopmesh/platform/errors";
import { createClient } from "@shopmesh/platform/grpc-client";
import {
  createTestTokens,
  serveTestJwks,
  type TestJwksServer,
  type TestTokens,
} from "@shopmesh/platform/testing/test-tokens";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import pg from "pg";
import { type FakePeers, startFakePeers, TOKENS } from "../../../test/e2e/support/fake-peers.ts";
import {
  dropTestDatabase,
  type ServiceProcess,
  startServiceProcess,
  waitFor,
} from "../../../test/e2e/support/service-process.ts";

const alice = uuidv7();
const bob = uuidv7();
const admin = uuidv7();
const address = {
  fullName: "Alice Doe",
  line1: "1 Main St",
  city: "Austin",
  region: "TX",
  postalCode: "78701",
  countryCode: "US",
};

describe("order service: PlaceOrder and the checkout saga against fake peers", {
  timeout: 120_000,
}, () => {
  let peers: FakePeers;
  let tokens: TestTokens;
  let jwks: TestJwksServer;
  let order: ServiceProcess;
  let client: ReturnType<typeof createClient<typeof OrderService>>;
  const as: Record<string, { metadata: Record<string, string> }> = {};

  before(async () => {
    peers = await startFakePeers();
    tokens = await createTestTokens();
    jwks = await serveTestJwks(tokens);
    for (const [name, sub, roles] of [
      ["alice", alice, ["customer"]],
      ["bob", bob, ["customer"]],
      ["admin", admin, ["customer", "admin"]],
    ] as const) {
      as[name] = { metadata: { authorization: `Bearer ${await tokens.sign({ sub, roles })}` } };
    }
    order = await startServiceProcess("order", {
      USER_ADDR: jwks.address,
      CATALOG_ADDR: peers.address,
      INVENTORY_ADDR: peers.address,
      PAYMENT_ADDR: peers.address,
      SHIPPING_ADDR: peers.address,
      PEER_TIMEOUT_MS: "1000",
      SAGA_PAYMENT_TIMEOUT_MS: "2500",
      SAGA_SWEEP_INTERVAL_MS: "100",
      SAGA_LEASE_MS: "3000",
    });
    client = createClient(OrderService, order.address, { breaker: false, timeoutMs: 5_000 });
  });

  after(async () => {
    await order?.kill("SIGTERM");
    await jwks?.close();
    await peers?.close();
    if (order) await dropTestDatabase(order.dbName);
  });

  type PlaceOrderInit = MessageInitShape<typeof PlaceOrderRequestSchema>;
  function request(variantId: string, init: Partial<PlaceOrderInit> = {}): PlaceOrderInit {
    return {
      idempotencyKey: `key-${uuidv7()}`,
      userId: alice,
      items: [{ variantId, quantity: 2 }],
      shippingAddress: address,
      paymentMethodToken: TOKENS.ok,
      currencyCode: "USD",
      ...init,
    } as PlaceOrderInit;
  }

  const until = (id: string, what: string, ok: (o: Order) => boolean, timeoutMs = 20_000) =>
    waitFor(
      what,
      async () => {
        const { order: o } = await client.getOrder({ orderId: id }, as.admin);
        return o && ok(o) ? o : undefined;
      },
      timeoutMs,
    );

  test("prices from the catalog, quotes shipping, taxes by destination and runs the saga to SHIPPED", async () => {
    const v = peers.addVariant({ priceMinor: 1_250 });
    const { order: placed } = await client.placeOrder(request(v.id), as.alice);
    assert.equal(placed?.status, OrderStatus.PENDING);
    assert.equal(placed?.totals?.subtotal?.amountMinor, 2_500n);
    assert.equal(placed?.totals?.shipping?.amountMinor, 499n);
    assert.equal(placed?.totals?.tax?.amountMinor, 156n); // 6.25% Texas sales tax on 2,500
    assert.equal(placed?.totals?.total?.amountMinor, 2_500n + 499n + 156n);
    const shipped = await until(placed!.id, "SHIPPED", (o) => o.status === OrderStatus.SHIPPED);
    assert.deepEqual(
      shipped.statusHistory.map((h) => OrderStatus[h.status]),
      ["PENDING", "STOCK_RESERVED", "PAID", "CONFIRMED", "SHIPPED"],
    );
    assert.equal(shipped.paymentState, PaymentState.CHARGED);
    assert.equal(shipped.shipment?.carrierCode, "mockship");
    assert.equal(peers.reservations.get(placed!.id)?.status, ReservationStatus.COMMITTED);
    assert.equal(peers.payments().filter((p) => p.orderId === placed!.id).length, 1);
    const tracking = await client.trackOrder({ orderId: placed!.id }, as.alice);
    assert.equal(tracking.trackingEvents[0]?.status, ShipmentStatus.LABEL_CREATED);
  });

  test("PlaceOrder twice with one key makes one order; a different body with that key is refused", async () => {
    const v = peers.addVariant({ priceMinor: 800 });
    const req = request(v.id);
    const [first, second] = await Promise.all([
      client.placeOrder(req, as.alice),
      client.placeOrder(req, as.alice),
    ]);
    assert.equal(first.order?.id, second.order?.id);
    const third = await client.placeOrder(req, as.alice);
    assert.equal(third.order?.id, first.order?.id);
    await assert.rejects(
      client.placeOrder(
        request(v.id, {
          idempotencyKey: req.idempotencyKey,
          items: [{ variantId: v.id, quantity: 3 }],
        }),
        as.alice,
      ),
      (err: RpcError) =>
        err.code === Code.FAILED_PRECONDITION && /idempotency_key/.test(err.message),
    );
    const { orders } = await client.listUserOrders({ userId: alice }, as.alice);
    assert.equal(orders.filter((o) => o.idempotencyKey === req.idempotencyKey).length, 1);
  });

  test("a retry answers with the first order even when its lines can no longer be priced", async () => {
    const v = peers.addVariant({ priceMinor: 900 });
    const req = request(v.id);
    const first = await client.placeOrder(req, as.alice);

    v.purchasable = false;
    v.priceMinor = 1_900;
    const retried = await client.placeOrder(req, as.alice);

    assert.equal(retried.order?.id, first.order?.id);
    assert.equal(
      retried.order?.totals?.total?.amountMinor,
      first.order?.totals?.total?.amountMinor,
    );
    await assert.rejects(
      client.placeOrder(request(v.id), as.alice),
      (err: RpcError) => err.code === Code.FAILED_PRECONDITION,
      "a new order for the withdrawn line is still refused",
    );
  });

  /** The transaction id each status entry of the order was written by, in order. */
  async function historyWriters(orderId: string) {
    const db = new pg.Client({ database: order.dbName });
    await db.connect();
    try {
      const { rows } = await db.query<{ status: string; xmin: string }>(
        "SELECT status, xmin::text FROM order_status_history WHERE order_id = $1 ORDER BY id",
        [orderId],
      );
      return Object.fromEntries(rows.map((r) => [r.status, r.xmin]));
    } finally {
      await db.end();
    }
  }

  test("reservation, charge, stock commit and shipment are saved together; a failed commit leaves them saved without it", async () => {
    const v = peers.addVariant({ priceMinor: 700 });
    const { order: together } = await client.placeOrder(request(v.id), as.alice);
    await until(together!.id, "SHIPPED", (o) => o.status === OrderStatus.SHIPPED);
    const one = await historyWriters(together!.id);
    assert.equal(one.STOCK_RESERVED, one.PAID, "STOCK_RESERVED and PAID written by one statement");
    assert.equal(one.PAID, one.CONFIRMED, "PAID and CONFIRMED written by one statement");
    assert.equal(one.CONFIRMED, one.SHIPPED, "CONFIRMED and SHIPPED written by one statement");
    assert.notEqual(one.PENDING, one.STOCK_RESERVED);

    peers.switches.commitsFailing = 1;
    const { order: apart } = await client.placeOrder(request(v.id), as.alice);
    await until(apart!.id, "SHIPPED", (o) => o.status === OrderStatus.SHIPPED);
    const two = await historyWriters(apart!.id);
    assert.equal(two.STOCK_RESERVED, two.PAID);
    assert.notEqual(two.PAID, two.CONFIRMED, "the charge was saved before the commit answered");
    assert.equal(two.CONFIRMED, two.SHIPPED);
    assert.equal(peers.calls.filter((c) => c === `commit:${apart!.id}`).length, 2);
    assert.equal(peers.reservations.get(apart!.id)?.status, ReservationStatus.COMMITTED);
    assert.equal(peers.payments().filter((p) => p.orderId === apart!.id).length, 1);
  });

  test("a status entry carries the time its step answered, not the time it was asked", async () => {
    const v = peers.addVariant({ priceMinor: 800 });
    peers.switches.commitDelayMs = 400;
    try {
      const { order: placed } = await client.placeOrder(request(v.id), as.alice);
      const shipped = await until(placed!.id, "SHIPPED", (o) => o.status === OrderStatus.SHIPPED);
      const at = (s: OrderStatus) =>
        timestampMs(shipped.statusHistory.find((h) => h.status === s)!.at!);
      const commitTook = at(OrderStatus.CONFIRMED) - at(OrderStatus.PAID);
      assert.ok(commitTook >= 400, `CONFIRMED stamped ${commitTook} ms after PAID`);
    } finally {
      peers.switches.commitDelayMs = 0;
    }
  });

  test("a declined payment releases the reservation and cancels with PAYMENT_DECLINED", async () => {
    const v = peers.addVariant({ priceMinor: 300 }, 10);
    const { order: placed } = await client.placeOrder(
      request(v.id, { paymentMethodToken: TOKENS.declined }),
      as.alice,
    );
    const cancelled = await until(
      placed!.id,
      "CANCELLED",
      (o) => o.status === OrderStatus.CANCELLED,
    );
    assert.equal(cancelled.cancellation?.reason, CancellationReason.PAYMENT_DECLINED);
    assert.equal(cancelled.paymentState, PaymentState.FAILED);
    await waitFor(
      "stock released",
      async () => peers.reservations.get(placed!.id)?.status === ReservationStatus.RELEASED,
    );
    assert.equal(peers.stock.get(v.id), 10);
  });

  test("out of stock cancels with OUT_OF_STOCK and charges nothing", async () => {
    const v = peers.addVariant({ priceMinor: 300 }, 1);
    const { order: placed } = await client.placeOrder(request(v.id), as.alice);
    const cancelled = await until(
      placed!.id,
      "CANCELLED",
      (o) => o.status === OrderStatus.CANCELLED,
    );
    assert.equal(cancelled.cancellation?.reason, CancellationReason.OUT_OF_STOCK);
    assert.equal(peers.payments().filter((p) => p.orderId === placed!.id).length, 0);
  });

  test("a user cancel after payment refunds and releases the stock while shipping is down, and cancels the shipment once it is back", async () => {
    const v = peers.addVariant({ priceMinor: 2_000 }, 5);
    peers.switches.shippingDown = true;
    try {
      const { order: placed } = await client.placeOrder(request(v.id), as.alice);
      await until(placed!.id, "CONFIRMED", (o) => o.status === OrderStatus.CONFIRMED);
      const { order: cancelled } = await client.cancelOrder(
        {
          orderId: placed!.id,
          reason: CancellationReason.USER_REQUESTED,
          detail: "changed my mind",
        },
        as.alice,
      );
      assert.equal(cancelled?.status, OrderStatus.CANCELLED);
      assert.equal(cancelled?.paymentState, PaymentState.REFUND_PENDING);
      const refunded = await until(
        placed!.id,
        "REFUNDED",
        (o) => o.paymentState === PaymentState.REFUNDED,
      );
      assert.equal(refunded.cancellation?.reason, CancellationReason.USER_REQUESTED);
      assert.equal(refunded.cancellation?.cancelledByUserId, alice);
      const payment = peers.payments().find((p) => p.orderId === placed!.id);
      assert.equal(payment?.status, PaymentStatus.REFUNDED);
      assert.equal(peers.reservations.get(placed!.id)?.status, ReservationStatus.RELEASED);
      assert.equal(peers.stock.get(v.id), 5);
      assert.ok(!peers.calls.includes(`cancel-shipment:${placed!.id}`));
      peers.switches.shippingDown = false;
      await waitFor("shipment cancelled", async () =>
        peers.calls.includes(`cancel-shipment:${placed!.id}`),
      );
      // Cancelling again answers the same cancelled order.
      const again = await client.cancelOrder(
        { orderId: placed!.id, reason: CancellationReason.USER_REQUESTED },
        as.alice,
      );
      assert.equal(again.order?.status, OrderStatus.CANCELLED);
    } finally {
      peers.switches.shippingDown = false;
    }
  });

  test("a payment that never answers times out into compensation, and the late charge is refunded", async () => {
    const v = peers.addVariant({ priceMinor: 999 }, 3);
    const { order: placed } = await client.placeOrder(
      request(v.id, { paymentMethodToken: TOKENS.hang }),
      as.alice,
    );
    const cancelled = await until(
      placed!.id,
      "CANCELLED",
      (o) => o.status === OrderStatus.CANCELLED,
    );
    assert.equal(cancelled.cancellation?.reason, CancellationReason.PAYMENT_TIMEOUT);
    await waitFor(
      "stock released",
      async () => peers.reservations.get(placed!.id)?.status === ReservationStatus.RELEASED,
    );
    const refunded = await until(
      placed!.id,
      "late charge refunded",
      (o) => o.paymentState === PaymentState.REFUNDED,
      30_000,
    );
    assert.equal(refunded.status, OrderStatus.CANCELLED);
    const charges = peers.payments().filter((p) => p.orderId === placed!.id);
    assert.equal(charges.length, 1, "at most one charge per order");
    assert.equal(charges[0]?.status, PaymentStatus.REFUNDED);
  });

  test("a shipped order cannot be cancelled", async () => {
    const v = peers.addVariant({ priceMinor: 100 });
    const { order: placed } = await client.placeOrder(request(v.id), as.alice);
    await until(placed!.id, "SHIPPED", (o) => o.status === OrderStatus.SHIPPED);
    await assert.rejects(
      client.cancelOrder(
        { orderId: placed!.id, reason: CancellationReason.USER_REQUESTED },
        as.alice,
      ),
      (err: RpcError) => err.code === Code.FAILED_PRECONDITION && /SHIPPED/.test(err.message),
    );
  });

  test("another user's order is NOT_FOUND, their order list PERMISSION_DENIED", async () => {
    const v = peers.addVariant({ priceMinor: 100 });
    const { order: placed } = await client.placeOrder(request(v.id), as.alice);
    for (const call of [
      () => client.getOrder({ orderId: placed!.id }, as.bob),
      () => client.trackOrder({ orderId: placed!.id }, as.bob),
      () =>
        client.cancelOrder(
          { orderId: placed!.id, reason: CancellationReason.USER_REQUESTED },
          as.bob,
        ),
    ]) {
      await assert.rejects(call(), (err: RpcError) => err.code === Code.NOT_FOUND);
    }
    await assert.rejects(
      client.listUserOrders({ userId: alice }, as.bob),
      (err: RpcError) => err.code === Code.PERMISSION_DENIED,
    );
    await assert.rejects(
      client.placeOrder(request(v.id), as.bob),
      (err: RpcError) => err.code === Code.PERMISSION_DENIED,
    );
    await assert.rejects(
      client.listOrders({}, as.alice),
      (err: RpcError) => err.code === Code.PERMISSION_DENIED,
    );
    await assert.rejects(
      client.getOrder({ orderId: placed!.id }),
      (err: RpcError) => err.code === Code.UNAUTHENTICATED,
    );
    const { orders } = await client.listOrders({ userId: alice }, as.admin);
    assert.ok(orders.some((o) => o.id === placed!.id));
    const future = timestampFromDate(new Date(Date.now() + 3_600_000));
    const none = await client.listOrders({ userId: alice, createdAfter: future }, as.admin);
    assert.equal(none.orders.length, 0);
    await assert.rejects(
      client.listOrders(
        { createdAfter: future, createdBefore: timestampFromDate(new Date()) },
        as.admin,
      ),
      (err: RpcError) => err.code === Code.INVALID_ARGUMENT && /created_after/.test(err.message),
    );
  });

  test("only staff may cancel with ADMIN_REQUESTED, and staff may cancel anyone's order", async () => {
    const v = peers.addVariant({ priceMinor: 100 }, 0); // out of stock: nothing ships meanwhile
    peers.switches.inventoryDown = true;
    try {
      const { order: placed } = await client.placeOrder(request(v.id), as.alice);
      await assert.rejects(
        client.cancelOrder(
          { orderId: placed!.id, reason: CancellationReason.ADMIN_REQUESTED },
          as.alice,
        ),
        (err: RpcError) => err.code === Code.PERMISSION_DENIED,
      );
      const { order: cancelled } = await client.cancelOrder(
        { orderId: placed!.id, reason: CancellationReason.ADMIN_REQUESTED, detail: "fraud check" },
        as.admin,
      );
      assert.equal(cancelled?.status, OrderStatus.CANCELLED);
      assert.equal(cancelled?.cancellation?.reason, CancellationReason.ADMIN_REQUESTED);
      assert.equal(cancelled?.cancellation?.cancelledByUserId, admin);
    } finally {
      peers.switches.inventoryDown = false;
    }
  });

  test("bad input is INVALID_ARGUMENT naming the field", async () => {
    const v = peers.addVariant({ priceMinor: 100 });
    const cases: [Partial<MessageInitShape<typeof PlaceOrderRequestSchema>>, RegExp][] = [
      [{ items: [{ variantId: v.id, quantity: 0 }] }, /items\[0\]\.quantity/],
      [{ items: [{ variantId: "not-a-uuid", quantity: 1 }] }, /items\[0\]\.variant_id/],
      [{ idempotencyKey: "short" }, /idempotency_key/],
      [{ currencyCode: "usd" }, /currency_code/],
      [{ items: [] }, /items/],
    ];
    for (const [init, field] of cases) {
      await assert.rejects(client.placeOrder(request(v.id, init), as.alice), (err: RpcError) => {
        assert.equal(err.code, Code.INVALID_ARGUMENT, err.message);
        assert.match(err.message, field);
        return true;
      });
    }
    await assert.rejects(
      client.getOrder({ orderId: "42" }, as.alice),
      (err: RpcError) => err.code === Code.INVALID_ARGUMENT && /order_id/.test(err.message),
    );
  });

  test("a total that moved away from expected_total, or an unpurchasable line, is FAILED_PRECONDITION", async () => {
    const v = peers.addVariant({ priceMinor: 100 });
    await assert.rejects(
      client.placeOrder(
        request(v.id, { expectedTotal: { currencyCode: "USD", amountMinor: 1n } }),
        as.alice,
      ),
      (err: RpcError) =>
        err.code === Code.FAILED_PRECONDITION && /expected_total/.test(err.message),
    );
    const off = peers.addVariant({ priceMinor: 100, purchasable: false });
    await assert.rejects(
      client.placeOrder(request(off.id), as.alice),
      (err: RpcError) =>
        err.code === Code.FAILED_PRECONDITION && /not purchasable/.test(err.message),
    );
  });

  test("ListUserOrders pages newest first and filters by status", async () => {
    const user = uuidv7();
    const auth = { metadata: { authorization: `Bearer ${await tokens.sign({ sub: user })}` } };
    const v = peers.addVariant({ priceMinor: 100 }, 0);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { order: o } = await client.placeOrder(request(v.id, { userId: user }), auth);
      ids.push(o!.id);
    }
    const seen: string[] = [];
    let pageToken = "";
    do {
      const res = await client.listUserOrders(
        { userId: user, page: { pageSize: 2, pageToken } },
        auth,
      );
      assert.equal(res.page?.totalSize, 5n);
      seen.push(...res.orders.map((o) => o.id));
      pageToken = res.page?.nextPageToken ?? "";
    } while (pageToken);
    assert.deepEqual(seen, [...ids].reverse());
    for (const id of ids)
      await until(id, "cancelled (no stock)", (o) => o.status === OrderStatus.CANCELLED);
    const cancelled = await client.listUserOrders(
      { userId: user, statuses: [OrderStatus.CANCELLED] },
      auth,
    );
    assert.equal(cancelled.orders.length, 5);
    const shipped = await client.listUserOrders(
      { userId: user, statuses: [OrderStatus.SHIPPED] },
      auth,
    );
    assert.equal(shipped.orders.length, 0);
  });
});
