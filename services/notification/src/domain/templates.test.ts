import assert from "node:assert/strict";
import { test } from "node:test";
import { NotificationType } from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { escapeHtml, renderMessage, subjectOf } from "./templates.ts";

const links = { storefrontUrl: "https://shop.example" };

test("escapes every HTML metacharacter", () => {
  assert.equal(
    escapeHtml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
});

test("interpolated values are escaped in HTML and kept verbatim in text", () => {
  const m = renderMessage(
    NotificationType.ORDER_CANCELLED,
    {
      name: "<img src=x onerror=alert(1)>",
      orderId: "0192-abcdef12",
      reason: "a & b",
      detail: "<b>",
    },
    links,
  );
  assert.doesNotMatch(m.html, /<img|<b>/);
  assert.match(m.html, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(m.text, /Hi <img src=x onerror=alert\(1\)>,/);
  assert.equal(m.subject, "Your order abcdef12 was cancelled");
});

test("links outside http(s) never become hrefs", () => {
  const m = renderMessage(
    NotificationType.ORDER_SHIPPED,
    { orderId: "o", trackingNumber: "MS1", trackingUrl: "javascript:alert(1)" },
    links,
  );
  assert.doesNotMatch(m.html, /href="javascript/);
});

test("the reset link carries the opened token, URL-encoded; without it the template refuses", () => {
  const m = renderMessage(NotificationType.PASSWORD_RESET, { name: "Ada" }, links, {
    token: "a b+c",
  });
  assert.match(m.text, /https:\/\/shop\.example\/reset-password\?token=a%20b%2Bc/);
  assert.throws(() => renderMessage(NotificationType.PASSWORD_RESET, {}, links));
  assert.throws(() => renderMessage(NotificationType.EMAIL_VERIFICATION, {}, links));
});

test("every type has a subject that needs no secret", () => {
  for (const type of Object.values(NotificationType)) {
    if (typeof type !== "number" || type === NotificationType.UNSPECIFIED) continue;
    assert.notEqual(subjectOf(type, { orderId: "12345678" }), "");
  }
});
