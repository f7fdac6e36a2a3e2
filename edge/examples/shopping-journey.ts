/**
 * Walks the shopping journey through the partner SDK against a running shop (`npm start`):
 * register -> verify the email (code read from the local SMTP sink) -> browse -> add to cart
 * -> tokenize a test card -> checkout -> follow the order until it is paid, shipped or
 * delivered.
 *
 *   npx tsx edge/examples/shopping-journey.ts [edge URL, default http://127.0.0.1:8080]
 */
import { setTimeout as sleep } from "node:timers/promises";
import { OrderStatus } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { createShopmeshClient } from "../sdk/index.ts";

const baseUrl = process.argv[2] ?? process.env.EDGE_URL ?? "http://127.0.0.1:8080";
const smtpSink = process.env.SMTP_SINK_URL ?? "http://127.0.0.1:1080";
let accessToken: string | undefined;
const shop = createShopmeshClient({ baseUrl, token: () => accessToken });

/** The newest 6-digit code mailed to `email`, from MailDev's REST API. */
async function verificationCode(email: string): Promise<string | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const mails = (await (await fetch(`${smtpSink}/email`)).json()) as {
      to: { address: string }[];
      text?: string;
      html?: string;
    }[];
    const mine = mails.filter((m) => m.to.some((t) => t.address === email)).at(-1);
    const code = /\b(\d{6})\b/.exec(mine?.text ?? mine?.html ?? "")?.[1];
    if (code) return code;
    await sleep(500);
  }
  return undefined;
}

const email = `shopper+${Date.now()}@example.com`;
const password = "correct horse battery staple";
const registered = await shop.user.register({ email, password, name: "Demo Shopper" });
const userId = registered.user!.id;
accessToken = registered.tokens!.accessToken;
console.log(`registered ${email} as ${userId}`);

const code = await verificationCode(email);
if (code) {
  await shop.user.verifyEmail({ email, code });
  console.log("email verified");
} else console.log("no verification mail found in the SMTP sink; continuing unverified");

const login = await shop.user.login({ email, password });
accessToken = login.tokens!.accessToken;
console.log("logged in");

const { products } = await shop.catalog.listProducts({ page: { pageSize: 5 } });
const product = products.find((p) => p.variants.length > 0);
if (!product)
  throw new Error("the catalog has no products with variants; start the shop with demo data");
const variant = product.variants[0]!;
console.log(
  `browsing: ${product.name} (${variant.sku}) at ${variant.price?.amountMinor} ${variant.price?.currencyCode}`,
);

const { cart } = await shop.cart.addItem({ userId, variantId: variant.id, quantity: 1 });
console.log(`cart holds ${cart?.itemCount} item(s)`);

const card = await shop.payment.tokenizeCard({
  cardNumber: "4242424242424242",
  expMonth: 12,
  expYear: new Date().getFullYear() + 2,
  cvc: "123",
  cardholderName: "Demo Shopper",
});
const { orderId } = await shop.cart.checkout({
  userId,
  destination: {
    case: "shippingAddress",
    value: {
      fullName: "Demo Shopper",
      line1: "1 Main St",
      city: "Springfield",
      postalCode: "12345",
      countryCode: "US",
    },
  },
  payment: { case: "paymentToken", value: card.token },
  idempotencyKey: `journey-${crypto.randomUUID()}`,
});
console.log(`placed order ${orderId}`);

const done = new Set([
  OrderStatus.PAID,
  OrderStatus.CONFIRMED,
  OrderStatus.SHIPPED,
  OrderStatus.DELIVERED,
  OrderStatus.CANCELLED,
]);
for (let attempt = 0; attempt < 60; attempt++) {
  const { order } = await shop.order.getOrder({ orderId });
  const status = OrderStatus[order?.status ?? 0];
  if (order && done.has(order.status)) {
    console.log(`order ${orderId} is ${status}`);
    break;
  }
  console.log(`order ${orderId} is ${status}; waiting`);
  await sleep(1_000);
}
