import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  OrderCancelledSchema,
  OrderPlacedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/order_events_pb.js";
import {
  UserEmailVerificationRequestedSchema,
  UserPasswordResetRequestedSchema,
  UserRegisteredSchema,
} from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import {
  NotificationStatus,
  NotificationType,
} from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { CancellationReason, PaymentState } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { Code, RpcError } from "@shopmesh/platform/errors";
import type { NewEvent } from "@shopmesh/platform/event-envelope";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import {
  type NotificationHarness,
  startNotificationHarness,
} from "./support/notification-harness.ts";

async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  const err = await promise.then(
    () => assert.fail("expected the call to fail"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RpcError, `expected an RpcError, got ${String(err)}`);
  return err;
}

const userEvent = (
  userId: string,
  eventType: string,
  schema: never,
  payload: unknown,
): NewEvent => ({
  topic: "users",
  aggregateType: "user",
  aggregateId: userId,
  eventType,
  producer: "user",
  payloadSchema: schema,
  payload: payload as never,
});

const registered = (userId: string, email: string, name: string) =>
  userEvent(
    userId,
    "user.registered",
    UserRegisteredSchema as never,
    create(UserRegisteredSchema, { userId, email, name }),
  );

const orderPlaced = (userId: string, orderId: string): NewEvent => ({
  topic: "orders",
  aggregateType: "order",
  aggregateId: orderId,
  eventType: "order.placed",
  producer: "order",
  payloadSchema: OrderPlacedSchema,
  payload: create(OrderPlacedSchema, {
    orderId,
    userId,
    currencyCode: "USD",
    items: [
      {
        name: "Mug <b>bold</b>",
        quantity: 2,
        lineTotal: { currencyCode: "USD", amountMinor: 2400n },
      },
    ],
    totals: { total: { currencyCode: "USD", amountMinor: 2999n } },
  }),
});

const orderCancelled = (userId: string, orderId: string): NewEvent => ({
  topic: "orders",
  aggregateType: "order",
  aggregateId: orderId,
  eventType: "order.cancelled",
  producer: "order",
  payloadSchema: OrderCancelledSchema,
  payload: create(OrderCancelledSchema, {
    orderId,
    userId,
    reason: CancellationReason.PAYMENT_DECLINED,
    detail: "card_declined",
    paymentState: PaymentState.FAILED,
  }),
});

describe("notification service", { timeout: 58_000 }, () => {
  let h: NotificationHarness;

  /** A registered user with a unique sink address; resolves once the welcome mail arrived. */
  const newUser = async (name = "Ada") => {
    const userId = uuidv7();
    const email = `ada-${userId}@test.shopmesh`;
    await h.publish(registered(userId, email, name));
    const [welcome] = await h.waitForMails(email, 1);
    return { userId, email, welcome: welcome! };
  };

  const log = async (userId: string) =>
    (await h.client.listNotifications({ userId }, { metadata: await h.issuer.as(userId) }))
      .notifications;

  before(async () => {
    h = await startNotificationHarness();
  });
  after(async () => {
    await h?.stop();
  });

  test("user.registered sends one welcome e-mail, and order.placed one order e-mail with the right subject and recipient", async () => {
    const { userId, email, welcome } = await newUser();
    assert.equal(welcome.subject, "Welcome to shopmesh");
    const orderId = uuidv7();
    await h.publish(orderPlaced(userId, orderId));
    const mails = await h.waitForMails(email, 2);
    const order = mails.find((m) => m.subject.startsWith("We received your order"));
    assert.ok(order, "order e-mail arrived");
    assert.equal(order.subject, `We received your order ${orderId.slice(-8)}`);
    assert.deepEqual(
      order.to.map((t) => t.address),
      [email],
    );
    assert.match(order.text, /2 × Mug <b>bold<\/b> — \$24\.00/);
    assert.match(order.text, /Total: \$29\.99/);
    assert.match(order.html, /Mug &lt;b&gt;bold&lt;\/b&gt;/);
    const entries = await log(userId);
    const placed = entries.find((n) => n.type === NotificationType.ORDER_PLACED);
    assert.equal(placed?.status, NotificationStatus.SENT);
    assert.equal(placed?.recipient, email);
  });

  test("the same order.placed redelivered still produces exactly one e-mail", async () => {
    const { userId, email } = await newUser();
    const orderId = uuidv7();
    const event = orderPlaced(userId, orderId);
    const first = await h.publish(event);
    await h.publish(event, first);
    await h.publish(event, first);
    // Same key, same partition: once the cancellation arrives, the duplicates were consumed.
    await h.publish(orderCancelled(userId, orderId));
    const mails = await h.waitForMails(email, 3);
    await sleep(300);
    const final = await h.mailsTo(email);
    assert.equal(final.filter((m) => m.subject.startsWith("We received your order")).length, 1);
    assert.equal(final.filter((m) => m.subject.includes("was cancelled")).length, 1);
    assert.equal(final.length, mails.length);
    const cancelled = final.find((m) => m.subject.includes("was cancelled"))!;
    assert.match(cancelled.text, /the payment was declined/);
    assert.match(cancelled.text, /You were not charged/);
  });

  test("an opted-out type sends nothing and is logged SKIPPED_OPTED_OUT", async () => {
    const { userId, email } = await newUser();
    await h.client.updatePreferences(
      { userId, types: [{ type: NotificationType.ORDER_PLACED, enabled: false }] },
      { metadata: await h.issuer.as(userId) },
    );
    const orderId = uuidv7();
    await h.publish(orderPlaced(userId, orderId));
    await h.publish(orderCancelled(userId, orderId));
    await h.waitForMails(email, 2);
    const mails = await h.mailsTo(email);
    assert.equal(mails.filter((m) => m.subject.startsWith("We received")).length, 0);
    const skipped = (await log(userId)).find((n) => n.type === NotificationType.ORDER_PLACED);
    assert.equal(skipped?.status, NotificationStatus.SKIPPED_OPTED_OUT);
  });

  test("security e-mails ignore opt-outs: the reset link and the verification code still arrive, opened from their seals", async () => {
    const { userId, email } = await newUser("Grace");
    await h.client.updatePreferences(
      {
        userId,
        types: [
          { type: NotificationType.WELCOME, enabled: false },
          { type: NotificationType.ORDER_PLACED, enabled: false },
        ],
        channels: { channels: [] },
      },
      { metadata: await h.issuer.as(userId) },
    );
    const expiresAt = timestampFromDate(new Date(Date.now() + 30 * 60_000));
    await h.publish(
      userEvent(
        userId,
        "user.password_reset_requested",
        UserPasswordResetRequestedSchema as never,
        create(UserPasswordResetRequestedSchema, {
          userId,
          email,
          name: "Grace",
          sealedToken: await h.seal({ token: "reset-token_ABC123" }),
          expiresAt,
        }),
      ),
    );
    await h.publish(
      userEvent(
        userId,
        "user.email_verification_requested",
        UserEmailVerificationRequestedSchema as never,
        create(UserEmailVerificationRequestedSchema, {
          userId,
          email,
          name: "Grace",
          sealedCode: await h.seal({ code: "482913" }),
          expiresAt,
        }),
      ),
    );
    const mails = await h.waitForMails(email, 3);
    const reset = mails.find((m) => m.subject === "Reset your shopmesh password");
    assert.ok(reset);
    assert.match(reset.text, /http:\/\/shop\.test\/reset-password\?token=reset-token_ABC123/);
    const verify = mails.find((m) => m.subject === "Your shopmesh verification code");
    assert.ok(verify);
    assert.match(verify.text, /482913/);
    const stored = await h.app.deps.db
      .selectFrom("notifications")
      .select("data")
      .where("user_id", "=", userId)
      .execute();
    assert.ok(
      stored.every(
        (r) => !JSON.stringify(r.data).includes("reset-token_ABC123") && !("sealed" in r.data),
      ),
      "no secret, sealed or open, stays in the log once sent",
    );
  });

  test("HTML in a user's name is escaped in the HTML part", async () => {
    const { welcome } = await newUser('<script>alert("x")</script>');
    assert.doesNotMatch(welcome.html, /<script>alert/);
    assert.match(welcome.html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
  });

  test("a message queued before a crash is sent once after restart; a claim that died mid-send is never resent", async () => {
    const { userId, email } = await newUser();
    const base = {
      user_id: userId,
      channel: 1,
      type: NotificationType.ORDER_DELIVERED,
      recipient: email,
      subject: "Your order 00000000 was delivered",
      source_event_type: "order.delivered",
      data: { orderId: uuidv7() },
    };
    await h.app.deps.db
      .insertInto("notifications")
      .values([
        {
          ...base,
          id: uuidv7(),
          status: "QUEUED",
          source_event_id: uuidv7(),
          send_started_at: null,
          sent_at: null,
        },
        {
          ...base,
          id: uuidv7(),
          subject: "stale claim",
          status: "QUEUED",
          source_event_id: uuidv7(),
          send_started_at: new Date(Date.now() - 10 * 60_000),
          sent_at: null,
        },
      ])
      .execute();
    await h.app.dispatcher.drain();
    await h.app.dispatcher.drain();
    const mails = await h.waitForMails(email, 2);
    assert.equal(mails.filter((m) => m.subject.includes("was delivered")).length, 1);
    assert.equal(mails.filter((m) => m.subject === "stale claim").length, 0);
    const rows = await h.app.deps.db
      .selectFrom("notifications")
      .select(["subject", "status", "failure_reason"])
      .where("user_id", "=", userId)
      .where("type", "=", NotificationType.ORDER_DELIVERED)
      .orderBy("subject")
      .execute();
    assert.deepEqual(
      rows.map((r) => r.status),
      ["SENT", "FAILED"],
    );
    assert.match(rows[1]!.failure_reason, /outcome unknown/);
  });

  test("preferences: defaults, owner-only access, and security types cannot be switched off", async () => {
    const userId = uuidv7();
    const me = await h.issuer.as(userId);
    const { preferences } = await h.client.getPreferences({ userId }, { metadata: me });
    assert.ok(preferences?.types.every((t) => t.enabled));
    assert.deepEqual(
      preferences?.types.filter((t) => t.mandatory).map((t) => t.type),
      [
        NotificationType.EMAIL_VERIFICATION,
        NotificationType.PASSWORD_RESET,
        NotificationType.ACCOUNT_CHANGED,
      ],
    );
    const stranger = await h.issuer.as(uuidv7());
    assert.equal(
      (await rejection(h.client.getPreferences({ userId }, { metadata: stranger }))).code,
      Code.PERMISSION_DENIED,
    );
    assert.equal(
      (await rejection(h.client.listNotifications({ userId }, { metadata: stranger }))).code,
      Code.PERMISSION_DENIED,
    );
    const mandatory = await rejection(
      h.client.updatePreferences(
        { userId, types: [{ type: NotificationType.PASSWORD_RESET, enabled: false }] },
        { metadata: me },
      ),
    );
    assert.equal(mandatory.code, Code.INVALID_ARGUMENT);
    const badId = await rejection(h.client.getPreferences({ userId: "me" }, { metadata: me }));
    assert.equal(badId.code, Code.INVALID_ARGUMENT);
    assert.match(badId.message, /user_id/);
    const admin = await h.client.updatePreferences(
      { userId, types: [{ type: NotificationType.SHIPMENT_UPDATE, enabled: false }] },
      { metadata: await h.issuer.as(uuidv7(), { admin: true }) },
    );
    const shipmentUpdate = admin.preferences?.types.find(
      (t) => t.type === NotificationType.SHIPMENT_UPDATE,
    );
    assert.equal(shipmentUpdate?.enabled, false);
    assert.ok(admin.preferences?.updatedAt);
  });
});
