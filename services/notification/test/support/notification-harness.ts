import { NotificationService } from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { dropDatabase } from "@shopmesh/platform/db";
import { encodeEvent, type NewEvent } from "@shopmesh/platform/event-envelope";
import { type Client, closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createIdempotentProducer, createKafka, type Producer } from "@shopmesh/platform/kafka";
import { createLogger } from "@shopmesh/platform/logger";
import { createTestIssuer, type TestIssuer } from "@shopmesh/platform/testing/test-tokens";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { CompactEncrypt, exportJWK, generateKeyPair, type JWK } from "jose";
import { type NotificationApp, startNotificationApp } from "../../src/app.ts";
import { loadNotificationConfig } from "../../src/config.ts";

/** The e-mail as the maildev sink's REST API returns it. */
export interface SinkMail {
  id: string;
  subject: string;
  text: string;
  html: string;
  to: { address: string }[];
}

const SINK = process.env.SMTP_SINK_URL ?? "http://127.0.0.1:1080";

/** A notification service on a throwaway database and throwaway topics, plus a publisher. */
export interface NotificationHarness {
  app: NotificationApp;
  client: Client<typeof NotificationService>;
  issuer: TestIssuer;
  /** Test topic names by stream ("users", "orders", "shipments"). */
  topics: Record<"users" | "orders" | "shipments", string>;
  /** Publishes an event to the test topic of its stream; returns the envelope bytes' event id. */
  publish(
    event: NewEvent,
    raw?: { value: Uint8Array; eventId: string },
  ): Promise<{ value: Uint8Array; eventId: string }>;
  /** Seals a JSON secret to the service's test key, as the user service does. */
  seal(payload: Record<string, string>): Promise<string>;
  /** Mails at the sink addressed to `address`. */
  mailsTo(address: string): Promise<SinkMail[]>;
  /** Waits until `address` has at least `count` mails, or fails after `timeoutMs`. */
  waitForMails(address: string, count: number, timeoutMs?: number): Promise<SinkMail[]>;
  stop(): Promise<void>;
}

/** Starts the service in-process; `stop()` removes its database, topics and mails. */
export async function startNotificationHarness(): Promise<NotificationHarness> {
  const run = uuidv7().replaceAll("-", "").slice(-12);
  const dbName = `test_notifications_${run}`;
  const topics = {
    users: `test-notify-users-${run}`,
    orders: `test-notify-orders-${run}`,
    shipments: `test-notify-shipments-${run}`,
  };
  const issuer = await createTestIssuer();
  const { publicKey, privateKey } = await generateKeyPair("RSA-OAEP-256", { extractable: true });
  const kid = `test-${run}`;
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: "RSA-OAEP-256" };
  const config = loadNotificationConfig({
    ...process.env,
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    DB_NAME: dbName,
    KAFKA_GROUP_ID: `notification-test-${run}`,
    NOTIFICATION_TOPICS: Object.values(topics).join(","),
    NOTIFICATION_PRIVATE_JWK: JSON.stringify(privateJwk),
    NOTIFICATION_DISPATCH_POLL_MS: "200",
    STOREFRONT_URL: "http://shop.test",
  });
  const app = await startNotificationApp(config, {
    authenticate: issuer.authenticate,
    handleSignals: false,
    logger: createLogger("notification-test", process.env.LOG_LEVEL ?? "warn"),
  });
  const client = createClient(NotificationService, `127.0.0.1:${app.service.port}`, {
    breaker: false,
    retry: { maxAttempts: 1 },
    timeoutMs: 5_000,
  });
  const kafka = createKafka({ clientId: `notification-test-${run}`, brokers: config.kafkaBrokers });
  const producer: Producer = createIdempotentProducer(kafka);
  await producer.connect();
  const addresses = new Set<string>();

  const mailsTo = async (address: string) => {
    addresses.add(address);
    const all = (await (await fetch(`${SINK}/email`)).json()) as SinkMail[];
    return all.filter((m) => m.to.some((t) => t.address === address));
  };

  return {
    app,
    client,
    issuer,
    topics,
    async publish(event, raw) {
      const encoded =
        raw ??
        (() => {
          const e = encodeEvent({ ...event, topic: topics[event.topic as keyof typeof topics] });
          return { value: e.envelope, eventId: e.eventId };
        })();
      await producer.send({
        topic: topics[event.topic as keyof typeof topics],
        messages: [{ key: event.aggregateId, value: Buffer.from(encoded.value) }],
        acks: -1,
      });
      return encoded;
    },
    seal: (payload) =>
      new CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid })
        .encrypt(publicKey),
    mailsTo,
    async waitForMails(address, count, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const mails = await mailsTo(address);
        if (mails.length >= count) return mails;
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} mails to ${address}, got ${mails.length}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      closeClients();
      await producer.disconnect();
      await app.service.stop("test finished");
      for (const address of addresses) {
        for (const mail of await mailsTo(address)) {
          await fetch(`${SINK}/email/${mail.id}`, { method: "DELETE" });
        }
      }
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
      await admin.disconnect();
      await dropDatabase(dbName, { role: dbName });
    },
  };
}
