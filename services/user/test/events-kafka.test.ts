import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import {
  EmailVerificationReason,
  UserEmailVerificationRequestedSchema,
  UserRegisteredSchema,
} from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import { Role } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { unpackPayload } from "@shopmesh/platform/event-envelope";
import { createKafka } from "@shopmesh/platform/kafka";
import {
  type ConsumedEvent,
  type RunningConsumer,
  startConsumer,
} from "@shopmesh/platform/kafka-consumer";
import { createLogger } from "@shopmesh/platform/logger";
import { startUserHarness, type UserHarness } from "./harness.ts";

describe("events reach Kafka through the outbox relay", { timeout: 60_000 }, () => {
  let h: UserHarness;
  let consumer: RunningConsumer | undefined;
  const received: ConsumedEvent[] = [];
  before(async () => {
    h = await startUserHarness({ USER_OUTBOX_RELAY: "true" });
  });
  after(async () => {
    await consumer?.stop();
    await h?.close();
  });

  test("register publishes user.registered then user.email_verification_requested on `users`, keyed by user id", async () => {
    const account = await h.register({ name: "Kafka Reader" });
    const logger = createLogger("user-events-test", "silent");
    consumer = await startConsumer({
      kafka: createKafka({
        clientId: "user-events-test",
        brokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092",
        logger,
      }),
      groupId: `user-events-test-${randomBytes(6).toString("hex")}`,
      topics: ["users"],
      fromBeginning: true,
      logger,
      handler: async (event) => {
        if (event.key === account.id) received.push(event);
      },
    });
    const deadline = Date.now() + 40_000;
    while (received.length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(
      received.map((e) => e.envelope.eventType),
      ["user.registered", "user.email_verification_requested"],
    );
    assert.equal(received[0]?.headers["event-type"], "user.registered");
    assert.equal(received[0]?.envelope.aggregateId, account.id);

    const registered = unpackPayload(received[0]!.envelope, UserRegisteredSchema);
    assert.equal(registered.email, account.email);
    assert.deepEqual(registered.roles, [Role.CUSTOMER]);

    const requested = unpackPayload(received[1]!.envelope, UserEmailVerificationRequestedSchema);
    assert.equal(requested.reason, EmailVerificationReason.REGISTRATION);
    assert.ok(!requested.sealedCode.match(/"code"/), "the code is not in clear on Kafka");
    const { code } = await h.openSeal(requested.sealedCode);
    const verified = await h.client.verifyEmail({ email: account.email, code: code ?? "" });
    assert.equal(verified.user?.emailVerified, true);

    const published = await h.db
      .selectFrom("outbox")
      .select("published_at")
      .where("aggregate_id", "=", account.id)
      .execute();
    assert.ok(published.slice(0, 2).every((r) => r.published_at !== null));
  });
});
