import { NotificationType } from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";

/**
 * What a message is rendered from: facts copied from the event when it was consumed. One-time
 * secrets stay sealed here (`sealed`) and are opened only at send time, so the log never holds
 * a verification code or reset token in clear.
 */
export interface MessageData {
  name?: string;
  orderId?: string;
  /** Lines with preformatted amounts. */
  items?: { name: string; quantity: number; lineTotal: string }[];
  total?: string;
  reason?: string;
  detail?: string;
  refundPending?: boolean;
  carrierName?: string;
  trackingNumber?: string;
  trackingUrl?: string;
  estimatedDeliveryDate?: string;
  /** Shipment status in words, e.g. "Out for delivery". */
  statusText?: string;
  changedFields?: string[];
  /** ISO time a code or link stops working. */
  expiresAt?: string;
  /** JWE sealing the code or token. */
  sealed?: string;
}

/** A one-time secret opened from `MessageData.sealed`. */
export interface OpenedSecret {
  code?: string;
  token?: string;
}

/** A rendered e-mail. */
export interface RenderedMessage {
  subject: string;
  text: string;
  html: string;
}

/** Where links in messages point. */
export interface LinkBase {
  /** Storefront origin, e.g. "http://localhost:3000". */
  storefrontUrl: string;
}

type Block =
  | { p: string }
  | { list: string[] }
  | { code: string }
  | { link: { label: string; url: string } };

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

function toText(blocks: readonly Block[]): string {
  return `${blocks
    .map((b) => {
      if ("p" in b) return b.p;
      if ("list" in b) return b.list.map((item) => `  - ${item}`).join("\n");
      if ("code" in b) return `    ${b.code}`;
      return `${b.link.label}: ${b.link.url}`;
    })
    .join("\n\n")}\n\n— shopmesh\n`;
}

function toHtml(subject: string, blocks: readonly Block[]): string {
  const body = blocks
    .map((b) => {
      if ("p" in b) return `<p>${escapeHtml(b.p)}</p>`;
      if ("list" in b) return `<ul>${b.list.map((i) => `<li>${escapeHtml(i)}</li>`).join("")}</ul>`;
      if ("code" in b)
        return `<p style="font-size:24px;letter-spacing:4px"><strong>${escapeHtml(b.code)}</strong></p>`;
      const href = /^https?:\/\//i.test(b.link.url) ? b.link.url : "#";
      return `<p><a href="${escapeHtml(href)}">${escapeHtml(b.link.label)}</a></p>`;
    })
    .join("\n");
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>\n<body>\n${body}\n<p>— shopmesh</p>\n</body></html>\n`;
}

const short = (orderId = "") => orderId.slice(-8);
const hello = (d: MessageData) => ({ p: d.name ? `Hi ${d.name},` : "Hi," });
const lines = (d: MessageData) =>
  (d.items ?? []).map((i) => `${i.quantity} × ${i.name} — ${i.lineTotal}`);
const until = (d: MessageData) =>
  d.expiresAt ? ` It expires at ${new Date(d.expiresAt).toUTCString()}.` : "";

/**
 * Renders the message of one notification type: subject, plain text and HTML built from the
 * same blocks, with every interpolated value HTML-escaped, so a name like "<script>" shows as
 * text. Throws when a security template lacks its opened secret.
 */
export function renderMessage(
  type: NotificationType,
  data: MessageData,
  links: LinkBase,
  secret: OpenedSecret = {},
): RenderedMessage {
  const { subject, blocks } = compose(type, data, links, secret);
  return { subject, text: toText(blocks), html: toHtml(subject, blocks) };
}

/** The subject alone, known at queue time (it never contains a secret). */
export function subjectOf(type: NotificationType, data: MessageData): string {
  return compose(type, data, { storefrontUrl: "" }, { code: "", token: "" }).subject;
}

function compose(
  type: NotificationType,
  d: MessageData,
  links: LinkBase,
  secret: OpenedSecret,
): { subject: string; blocks: Block[] } {
  const orderUrl = `${links.storefrontUrl}/orders/${d.orderId ?? ""}`;
  switch (type) {
    case NotificationType.WELCOME:
      return {
        subject: "Welcome to shopmesh",
        blocks: [hello(d), { p: "Your shopmesh account is ready. Happy shopping!" }],
      };
    case NotificationType.EMAIL_VERIFICATION:
      if (secret.code === undefined) throw new Error("verification e-mail without its code");
      return {
        subject: "Your shopmesh verification code",
        blocks: [
          hello(d),
          { p: `Enter this code to verify your e-mail address.${until(d)}` },
          { code: secret.code },
          { p: "If you did not create a shopmesh account, ignore this e-mail." },
        ],
      };
    case NotificationType.PASSWORD_RESET: {
      if (secret.token === undefined) throw new Error("password reset e-mail without its token");
      const url = `${links.storefrontUrl}/reset-password?token=${encodeURIComponent(secret.token)}`;
      return {
        subject: "Reset your shopmesh password",
        blocks: [
          hello(d),
          {
            p: `Someone asked to reset your password. Use this link to choose a new one.${until(d)}`,
          },
          { link: { label: "Reset password", url } },
          { p: "If it was not you, ignore this e-mail; your password stays the same." },
        ],
      };
    }
    case NotificationType.ORDER_PLACED:
      return {
        subject: `We received your order ${short(d.orderId)}`,
        blocks: [
          hello(d),
          { p: "Thanks for your order. We are reserving your items and taking the payment." },
          { list: lines(d) },
          { p: `Total: ${d.total ?? ""}` },
          { link: { label: "View your order", url: orderUrl } },
        ],
      };
    case NotificationType.ORDER_CONFIRMED:
      return {
        subject: `Your order ${short(d.orderId)} is confirmed`,
        blocks: [
          hello(d),
          { p: "Your payment went through and your order is confirmed. Here is your receipt." },
          { list: lines(d) },
          { p: `Total charged: ${d.total ?? ""}` },
          { link: { label: "View your order", url: orderUrl } },
        ],
      };
    case NotificationType.ORDER_CANCELLED:
      return {
        subject: `Your order ${short(d.orderId)} was cancelled`,
        blocks: [
          hello(d),
          { p: `Your order was cancelled: ${d.reason ?? "cancelled"}.` },
          ...(d.detail ? [{ p: `Details: ${d.detail}` }] : []),
          {
            p: d.refundPending
              ? "Your payment is being refunded; it can take a few days to show on your statement."
              : "You were not charged.",
          },
        ],
      };
    case NotificationType.ORDER_SHIPPED:
      return {
        subject: `Your order ${short(d.orderId)} has shipped`,
        blocks: [
          hello(d),
          {
            p: `Your order is on its way with ${d.carrierName ?? "the carrier"}. Tracking number: ${d.trackingNumber ?? ""}.`,
          },
          ...(d.estimatedDeliveryDate
            ? [{ p: `Expected delivery: ${d.estimatedDeliveryDate}.` }]
            : []),
          ...(d.trackingUrl ? [{ link: { label: "Track your parcel", url: d.trackingUrl } }] : []),
        ],
      };
    case NotificationType.ORDER_DELIVERED:
      return {
        subject: `Your order ${short(d.orderId)} was delivered`,
        blocks: [
          hello(d),
          { p: "Your order was delivered. Enjoy! You can now review what you bought." },
          { link: { label: "View your order", url: orderUrl } },
        ],
      };
    case NotificationType.SHIPMENT_UPDATE:
      return {
        subject: `Delivery update for order ${short(d.orderId)}: ${d.statusText ?? ""}`,
        blocks: [
          hello(d),
          { p: `${d.statusText ?? "Update"}: ${d.detail ?? ""}`.trim() },
          ...(d.trackingNumber ? [{ p: `Tracking number: ${d.trackingNumber}.` }] : []),
          ...(d.trackingUrl ? [{ link: { label: "Track your parcel", url: d.trackingUrl } }] : []),
        ],
      };
    case NotificationType.ACCOUNT_CHANGED:
      return {
        subject: "Your shopmesh account was changed",
        blocks: [
          hello(d),
          { p: `These account details changed: ${(d.changedFields ?? []).join(", ")}.` },
          { p: "If this was not you, reset your password now and contact support." },
        ],
      };
    default:
      throw new Error(`no template for notification type ${type}`);
  }
}
