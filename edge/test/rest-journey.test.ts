import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  type RealShop,
  startRealShop,
  verificationCode,
  waitFor,
  waitForMail,
} from "../../test/e2e/support/real-shop.ts";
import { curl } from "./fixtures/curl.ts";

interface Json {
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON from curl, checked by the asserts
  [key: string]: any;
}

const address = {
  fullName: "Alice Shopper",
  line1: "1 Congress Ave",
  city: "Austin",
  region: "TX",
  postalCode: "78701",
  countryCode: "US",
};

describe("the shopping journey over REST/JSON with curl, against the real services", {
  timeout: 150_000,
}, () => {
  let shop: RealShop;
  const run = randomUUID().slice(0, 8);

  before(async () => {
    shop = await startRealShop({ shippingAdvanceMs: 600 });
  });
  after(async () => {
    await shop?.stop();
  });

  /** curl against the edge, asserting the status; returns the JSON body. */
  const call = async (
    expected: number,
    method: string,
    path: string,
    options: { token?: string; body?: unknown; base?: string } = {},
  ): Promise<Json> => {
    const res = await curl(method, `${options.base ?? shop.edgeUrl}${path}`, options);
    assert.equal(res.status, expected, `${method} ${path} -> ${res.status} ${res.raw}`);
    return (res.json ?? {}) as Json;
  };

  /** Registers, verifies with the mailed code and logs in; returns the user id and token. */
  const signUp = async (name: string) => {
    const email = `${name.toLowerCase()}+${run}@shopmesh.test`;
    const password = `${name}-secret-${run}`;
    const registered = await call(201, "POST", "/api/v1/auth/register", {
      body: { email, password, name },
    });
    assert.equal(registered.user.emailVerified, false);
    const code = await verificationCode(email);
    const verified = await call(200, "POST", "/api/v1/auth/verify-email", {
      body: { email, code },
    });
    assert.equal(verified.user?.emailVerified ?? true, true);
    const login = await call(200, "POST", "/api/v1/auth/login", { body: { email, password } });
    assert.equal(login.user.emailVerified, true);
    return { id: login.user.id as string, email, token: login.tokens.accessToken as string };
  };

  test("register, verify, browse, cart, checkout, paid, shipped, delivered, with the right statuses", async () => {
    const admin = (
      await call(200, "POST", "/api/v1/auth/login", {
        body: { email: shop.admin.email, password: shop.admin.password },
      })
    ).tokens.accessToken as string;

    // The admin lists two products of a brand only this run uses, and stocks them.
    const brand = `Acme-${run}`;
    const products: Json[] = [];
    for (const [name, price] of [
      ["Trail Mug", 2_500],
      ["Camp Spoon", 1_200],
    ] as const) {
      const slug = `${name.toLowerCase().replace(" ", "-")}-${run}`;
      const product = {
        name,
        slug,
        brand,
        active: true,
        variants: [
          {
            sku: `SKU-${slug}`,
            price: { currencyCode: "USD", amountMinor: String(price) },
            weightGrams: 300,
            active: true,
          },
        ],
      };
      await call(401, "POST", "/api/v1/products", { body: product });
      const created = await call(201, "POST", "/api/v1/products", { token: admin, body: product });
      const variantId = created.product.variants[0].id as string;
      await call(200, "POST", `/api/v1/inventory/stock/${variantId}/adjustments`, {
        token: admin,
        body: { setOnHand: 10, reason: "ADJUSTMENT_REASON_INITIAL", idempotencyKey: `s-${slug}` },
      });
      products.push(created.product);
    }
    await call(409, "POST", "/api/v1/products", {
      token: admin,
      body: { name: "Dup", slug: products[0]!.slug, active: false },
    });

    const alice = await signUp("Alice");
    const bob = await signUp("Bob");
    await call(403, "POST", "/api/v1/products", { token: alice.token, body: { name: "x" } });

    // Browse: list with filters, get one, an unknown id.
    const listed = await call(200, "GET", `/api/v1/products?brands=${brand}&page.pageSize=10`);
    assert.deepEqual(
      listed.products.map((p: Json) => p.name).sort(),
      ["Camp Spoon", "Trail Mug"],
      "the brand filter returns this run's products only",
    );
    const cheap = await call(
      200,
      "GET",
      `/api/v1/products?brands=${brand}&maxPrice.currencyCode=USD&maxPrice.amountMinor=2000`,
    );
    assert.deepEqual(
      cheap.products.map((p: Json) => p.name),
      ["Camp Spoon"],
    );
    const one = await call(200, "GET", `/api/v1/products/${products[0]!.id}`);
    assert.equal(one.product.slug, products[0]!.slug);
    const missing = await call(404, "GET", `/api/v1/products/${randomUUID()}`);
    assert.equal(missing.code, "not_found");
    const bad = await call(400, "GET", "/api/v1/products/not-a-uuid");
    assert.ok(
      bad.details.some((d: Json) => d.field === "product_id" || d.field === "productId"),
      JSON.stringify(bad),
    );

    // The cart: nobody's without a token, nobody else's with one.
    await call(401, "GET", `/api/v1/cart/${alice.id}`);
    for (const p of products) {
      await call(201, "POST", `/api/v1/cart/${alice.id}/items`, {
        token: alice.token,
        body: { variantId: p.variants[0].id, quantity: 1 },
      });
    }
    await call(403, "GET", `/api/v1/cart/${alice.id}`, { token: bob.token });
    await call(403, "POST", `/api/v1/cart/${alice.id}/items`, {
      token: bob.token,
      body: { variantId: products[0]!.variants[0].id, quantity: 1 },
    });
    const cart = await call(200, "GET", `/api/v1/cart/${alice.id}`, { token: alice.token });
    assert.equal(cart.cart.items.length, 2);
    const priced = await call(200, "GET", `/api/v1/cart/${alice.id}/price?countryCode=US`, {
      token: alice.token,
    });
    assert.equal(priced.price.subtotal.amountMinor, "3700");

    // Checkout with a tokenized test card.
    const card = await call(200, "POST", "/api/v1/payments/tokens", {
      token: alice.token,
      body: {
        cardNumber: "4242424242424242",
        expMonth: 12,
        expYear: 2040,
        cvc: "123",
        cardholderName: "Alice Shopper",
      },
    });
    assert.match(card.token, /^tok_/);
    const checkout = await call(200, "POST", `/api/v1/cart/${alice.id}/checkout`, {
      token: alice.token,
      body: {
        shippingAddress: address,
        paymentToken: card.token,
        idempotencyKey: `rest-${run}`,
      },
    });
    const orderId = checkout.orderId as string;
    assert.equal(checkout.order.id, orderId);
    assert.equal(checkout.order.totals.subtotal.amountMinor, "3700");

    // Someone else's order does not exist for them; an unknown one does not exist at all.
    await call(404, "GET", `/api/v1/orders/${orderId}`, { token: bob.token });
    await call(404, "GET", `/api/v1/orders/${randomUUID()}`, { token: alice.token });
    await call(401, "GET", `/api/v1/orders/${orderId}`);

    const delivered = await waitFor(
      "order DELIVERED through the edge",
      async () => {
        const { order } = await call(200, "GET", `/api/v1/orders/${orderId}`, {
          token: alice.token,
        });
        assert.notEqual(order.status, "ORDER_STATUS_CANCELLED", JSON.stringify(order));
        return order.status === "ORDER_STATUS_DELIVERED" ? order : undefined;
      },
      60_000,
    );
    assert.deepEqual(
      delivered.statusHistory.map((h: Json) => h.status),
      [
        "ORDER_STATUS_PENDING",
        "ORDER_STATUS_STOCK_RESERVED",
        "ORDER_STATUS_PAID",
        "ORDER_STATUS_CONFIRMED",
        "ORDER_STATUS_SHIPPED",
        "ORDER_STATUS_DELIVERED",
      ],
    );
    assert.equal(delivered.paymentState, "PAYMENT_STATE_CHARGED");
    const tracking = await call(200, "GET", `/api/v1/orders/${orderId}/tracking`, {
      token: alice.token,
    });
    assert.ok(tracking.trackingEvents.length >= 4, JSON.stringify(tracking));
    const shipment = await call(200, "GET", `/api/v1/orders/${orderId}/shipment`, {
      token: alice.token,
    });
    assert.equal(shipment.shipment.status, "SHIPMENT_STATUS_DELIVERED");
    const publicTrack = await call(
      200,
      "GET",
      `/api/v1/shipments/track/${shipment.shipment.trackingNumber}`,
    );
    assert.ok(publicTrack, "public tracking answers without a token");

    // A reason that is not one names the field; a delivered order cannot be cancelled: a state
    // conflict, not a server error.
    const badReason = await call(400, "POST", `/api/v1/orders/${orderId}/cancel`, {
      token: alice.token,
      body: { reason: "CANCELLATION_REASON_CHANGED_MY_MIND" },
    });
    assert.equal(badReason.details[0].field, "reason");
    const conflict = await call(409, "POST", `/api/v1/orders/${orderId}/cancel`, {
      token: alice.token,
      body: { reason: "CANCELLATION_REASON_USER_REQUESTED" },
    });
    assert.equal(conflict.code, "failed_precondition");

    // The mails of the journey reached the SMTP sink.
    for (const subject of [/is confirmed/, /has shipped/, /was delivered/]) {
      await waitForMail(alice.email, subject);
    }
    const cartAfter = await call(200, "GET", `/api/v1/cart/${alice.id}`, { token: alice.token });
    assert.equal(cartAfter.cart.items?.length ?? 0, 0, "checkout emptied the cart");
  });

  test("an edge with a tiny rate limit answers 429 with Retry-After once the burst is spent", async () => {
    const strict = await shop.startEdge({
      EDGE_RATE_IP_BURST: "3",
      EDGE_RATE_IP_PER_MINUTE: "1",
    });
    try {
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 6; i++) {
        const res = await curl("GET", `${strict.url}/api/v1/products?page.pageSize=1`);
        statuses.push(res.status);
        if (res.status === 429) {
          retryAfter = res.headers["retry-after"];
          assert.equal((res.json as Json).code, "resource_exhausted");
        }
      }
      assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
      assert.deepEqual(statuses.slice(3), [429, 429, 429]);
      assert.ok(Number(retryAfter) >= 1, `Retry-After ${retryAfter}`);
    } finally {
      await strict.kill();
    }
  });
});
