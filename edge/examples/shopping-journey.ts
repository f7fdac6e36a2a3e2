/**
 * Walks the shopping journey through the partner SDK against a running shop (`npm start`):
 * register -> verify the email (code read from the local SMTP sink) -> log in -> browse -> add
 * to cart -> tokenize a test card -> checkout -> follow the order until it is paid, shipped or
 * delivered.
 *
 *   npx tsx edge/examples/shopping-journey.ts [edge URL, default http://127.0.0.1:8080]
 *
 * `edge/test/sdk-journey.test.ts` runs the same function against real services.
 */
import { realpathSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { OrderStatus } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { createShopmeshClient } from "../sdk/index.ts";

/** Options of {@link shoppingJourney}. */
export interface JourneyOptions {
  /** The edge, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** MailDev's HTTP API, where the verification code is read. */
  smtpSinkUrl?: string;
  /** The product to buy; the first listed product with a variant when absent. */
  productId?: string;
  /** Follow the order until it reaches this status (or CANCELLED); default PAID or later. */
  until?: OrderStatus;
  /** How long to follow the order (default 60 s). */
  followMs?: number;
  /** Where progress lines go (console.log by default). */
  log?: (line: string) => void;
}

/** What the journey did: who shopped, what was ordered and the statuses it saw. */
export interface JourneyResult {
  email: string;
  userId: string;
  accessToken: string;
  emailVerified: boolean;
  orderId: string;
  /** Every distinct order status observed, in order. */
  statuses: OrderStatus[];
  finalStatus: OrderStatus;
}

/** The newest 6-digit code mailed to `email`, from MailDev's REST API. */
async function verificationCode(smtpSink: string, email: string): Promise<string | undefined> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const mails = (await (await fetch(`${smtpSink}/email`)).json()) as {
      to: { address: string }[];
      text?: string;
      html?: string;
    }[];
    const mine = mails.filter((m) => m.to.some((t) => t.address === email)).reverse();
    for (const m of mine) {
      const code = /\b(\d{6})\b/.exec(m.text ?? m.html ?? "")?.[1];
      if (code) return code;
    }
    await sleep(500);
  }
  return undefined;
}

/** Runs the journey once with a fresh account; throws on any refused call. */
export async function shoppingJourney(options: JourneyOptions): Promise<JourneyResult> {
  const log = options.log ?? console.log;
  const smtpSink = options.smtpSinkUrl ?? "http://127.0.0.1:1080";
  let accessToken: string | undefined;
  const shop = createShopmeshClient({ baseUrl: options.baseUrl, token: () => accessToken });

  const email = `shopper+${Date.now()}-${crypto.randomUUID().slice(0, 6)}@example.com`;
  const password = "correct horse battery staple";
  const registered = await shop.user.register({ email, password, name: "Demo Shopper" });
  const userId = registered.user!.id;
  accessToken = registered.tokens!.accessToken;
  log(`registered ${email} as ${userId}`);

  const code = await verificationCode(smtpSink, email);
  if (code) {
    await shop.user.verifyEmail({ email, code });
    log("email verified");
  } else log("no verification mail found in the SMTP sink; continuing unverified");

  const login = await shop.user.login({ email, password });
  accessToken = login.tokens!.accessToken;
  log("logged in");

  const product = options.productId
    ? (await shop.catalog.getProduct({ productId: options.productId })).product
    : (await shop.catalog.listProducts({ page: { pageSize: 5 } })).products.find(
        (p) => p.variants.length > 0,
      );
  if (!product?.variants[0])
    throw new Error("the catalog has no products with variants; start the shop with demo data");
  const variant = product.variants[0];
  log(
    `browsing: ${product.name} (${variant.sku}) at ${variant.price?.amountMinor} ${variant.price?.currencyCode}`,
  );

  const { cart } = await shop.cart.addItem({ userId, variantId: variant.id, quantity: 1 });
  log(`cart holds ${cart?.itemCount} item(s)`);

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
        region: "IL",
        postalCode: "62701",
        countryCode: "US",
      },
    },
    payment: { case: "paymentToken", value: card.token },
    idempotencyKey: `journey-${crypto.randomUUID()}`,
  });
  log(`placed order ${orderId}`);

  const progress = [
    OrderStatus.PENDING,
    OrderStatus.STOCK_RESERVED,
    OrderStatus.PAID,
    OrderStatus.CONFIRMED,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
  ];
  const until = options.until ?? OrderStatus.PAID;
  const statuses: OrderStatus[] = [];
  const deadline = Date.now() + (options.followMs ?? 60_000);
  let finalStatus = OrderStatus.UNSPECIFIED;
  for (;;) {
    const { order } = await shop.order.getOrder({ orderId });
    finalStatus = order?.status ?? OrderStatus.UNSPECIFIED;
    if (statuses.at(-1) !== finalStatus) {
      statuses.push(finalStatus);
      log(`order ${orderId} is ${OrderStatus[finalStatus]}`);
    }
    const reached = progress.indexOf(finalStatus) >= progress.indexOf(until);
    if (reached || finalStatus === OrderStatus.CANCELLED || Date.now() > deadline) break;
    await sleep(250);
  }
  return {
    email,
    userId,
    accessToken: accessToken!,
    emailVerified: code !== undefined,
    orderId,
    statuses,
    finalStatus,
  };
}

const invokedDirectly =
  process.argv[1] !== undefined &&
  realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly) {
  const baseUrl = process.argv[2] ?? process.env.EDGE_URL ?? "http://127.0.0.1:8080";
  const smtpSinkUrl = process.env.SMTP_SINK_URL ?? "http://127.0.0.1:1080";
  await shoppingJourney({ baseUrl, smtpSinkUrl });
}
