import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { AdjustmentReason } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { OrderStatus, PaymentState } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import {
  type RealShop,
  SMTP_SINK_URL,
  startRealShop,
  waitForMail,
} from "../../test/e2e/support/real-shop.ts";
import { shoppingJourney } from "../examples/shopping-journey.ts";
import { Code, ConnectError, createShopmeshClient } from "../sdk/index.ts";

/** The Connect code a refused call carries (fails the test when the call succeeded). */
async function refusal(call: Promise<unknown>): Promise<Code> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err).code;
  }
  assert.fail("the call was expected to be refused");
}

describe("the SDK (Connect and gRPC-Web) against the real services", { timeout: 150_000 }, () => {
  let shop: RealShop;
  const run = randomUUID().slice(0, 8);
  let productId: string;

  before(async () => {
    shop = await startRealShop({ shippingAdvanceMs: 600 });
    // The admin stocks a product through the SDK's Connect protocol.
    let adminToken: string | undefined;
    const admin = createShopmeshClient({ baseUrl: shop.edgeUrl, token: () => adminToken });
    adminToken = (await admin.user.login(shop.admin)).tokens!.accessToken;
    const { product } = await admin.catalog.createProduct({
      product: {
        name: "SDK Kettle",
        slug: `sdk-kettle-${run}`,
        active: true,
        variants: [
          {
            sku: `KETTLE-${run}`,
            price: { currencyCode: "USD", amountMinor: 3_900n },
            weightGrams: 900,
            active: true,
          },
        ],
      },
    });
    productId = product!.id;
    await admin.inventory.adjustStock({
      variantId: product!.variants[0]!.id,
      change: { case: "setOnHand", value: 5 },
      reason: AdjustmentReason.INITIAL,
      idempotencyKey: `sdk-${run}`,
    });
  });
  after(async () => {
    await shop?.stop();
  });

  test("the shopping-journey example runs over Connect to a delivered order, with its mails", async () => {
    const lines: string[] = [];
    const result = await shoppingJourney({
      baseUrl: shop.edgeUrl,
      smtpSinkUrl: SMTP_SINK_URL,
      productId,
      until: OrderStatus.DELIVERED,
      followMs: 60_000,
      log: (line) => lines.push(line),
    });
    assert.equal(result.emailVerified, true, lines.join("\n"));
    assert.equal(result.finalStatus, OrderStatus.DELIVERED, lines.join("\n"));
    assert.ok(!result.statuses.includes(OrderStatus.CANCELLED));

    const shopper = createShopmeshClient({ baseUrl: shop.edgeUrl, token: result.accessToken });
    const { order } = await shopper.order.getOrder({ orderId: result.orderId });
    assert.deepEqual(
      order!.statusHistory.map((h) => OrderStatus[h.status]),
      ["PENDING", "STOCK_RESERVED", "PAID", "CONFIRMED", "SHIPPED", "DELIVERED"],
    );
    assert.equal(order!.paymentState, PaymentState.CHARGED);
    assert.equal(order!.items[0]!.productId, productId);
    await waitForMail(result.email, /was delivered/);

    // Connect errors carry the same codes as the REST statuses.
    const anonymous = createShopmeshClient({ baseUrl: shop.edgeUrl });
    assert.equal(
      await refusal(anonymous.cart.getCart({ userId: result.userId })),
      Code.Unauthenticated,
    );
    assert.equal(
      await refusal(shopper.cart.getCart({ userId: randomUUID() })),
      Code.PermissionDenied,
    );
    assert.equal(
      await refusal(shopper.order.cancelOrder({ orderId: result.orderId, reason: 6 })),
      Code.FailedPrecondition,
    );
  });

  test("gRPC-Web through the edge reaches the real catalog and order services", async () => {
    const web = createShopmeshClient({ baseUrl: shop.edgeUrl, protocol: "grpc-web" });
    const { product } = await web.catalog.getProduct({ productId });
    assert.equal(product?.slug, `sdk-kettle-${run}`);
    assert.equal(product?.variants[0]?.price?.amountMinor, 3_900n);
    assert.equal(await refusal(web.catalog.getProduct({ productId: randomUUID() })), Code.NotFound);
    assert.equal(
      await refusal(web.catalog.getProduct({ productId: "not-a-uuid" })),
      Code.InvalidArgument,
    );
    assert.equal(
      await refusal(web.order.getOrder({ orderId: randomUUID() })),
      Code.Unauthenticated,
    );
  });
});
