import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";
import type { Kafka, Producer } from "kafkajs";
import { pino } from "pino";
import { encodeEvent, unpackPayload } from "../src/event-envelope.ts";
import {
  createIdempotentProducer,
  createKafka,
  ensureTopics,
  ownConnections,
  SEND_OPTIONS,
  toKafkaMessage,
} from "../src/kafka.ts";
import { type ConsumedEvent, type RunningConsumer, startConsumer } from "../src/kafka-consumer.ts";
import { requestQueuePrototype } from "../src/kafkajs-request-queue.ts";
import { requestContext } from "../src/logger.ts";
import { sleep, uniqueName, waitFor } from "./fixtures/outbox/support.ts";

const run = promisify(execFile);
const logger = pino({ level: process.env.LOG_LEVEL ?? "silent" });
let kafka: Kafka;
let producer: Producer;
const topics: string[] = [];
const consumers: RunningConsumer[] = [];

before(async () => {
  kafka = createKafka({ clientId: "kafka-consumer-test", logger });
  producer = createIdempotentProducer(kafka);
  await producer.connect();
});

after(async () => {
  for (const c of consumers) await c.stop().catch(() => {});
  await producer?.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
});

async function newTopic(partitions = 3): Promise<string> {
  const topic = uniqueName("shopmesh-test-kafka");
  topics.push(topic);
  assert.deepEqual(await ensureTopics(kafka, [{ topic, numPartitions: partitions }]), [topic]);
  return topic;
}

/** Publishes test events `{ n }` keyed by aggregate, the way the relay does. */
async function publish(
  topic: string,
  events: { aggregateId: string; n: number; eventType?: string }[],
) {
  const messages = events.map(({ aggregateId, n, eventType = "test.counted" }) =>
    toKafkaMessage(
      encodeEvent({
        topic,
        aggregateType: "test",
        aggregateId,
        eventType,
        producer: "kafka-consumer-test",
        payloadSchema: StructSchema,
        payload: fromJson(StructSchema, { n }),
      }),
    ),
  );
  await producer.send({ topic, messages, ...SEND_OPTIONS });
}

const nOf = (event: ConsumedEvent) =>
  (toJson(StructSchema, unpackPayload(event.envelope, StructSchema)) as { n: number }).n;

async function consume(
  topic: string,
  groupId: string,
  handler: (event: ConsumedEvent) => Promise<void>,
  extra: {
    attempts?: number;
    pauseMs?: number;
    eventTypes?: string[];
    commitIntervalMs?: number;
  } = {},
): Promise<RunningConsumer> {
  const consumer = await startConsumer({
    kafka,
    groupId,
    topics: [topic],
    fromBeginning: true,
    logger,
    handler,
    retryDelayMs: 20,
    ...extra,
  });
  consumers.push(consumer);
  return consumer;
}

/**
 * A new two-partition topic holding events 1-4, and a member of a new group (committing every
 * `commitIntervalMs`) that has handled all four.
 */
async function fourHandled(commitIntervalMs: number) {
  const topic = await newTopic(2);
  const groupId = uniqueName("g");
  await publish(
    topic,
    [1, 2, 3, 4].map((n) => ({ aggregateId: `a${n % 2}`, n })),
  );
  const handled: number[] = [];
  const member = await consume(topic, groupId, async (e) => void handled.push(nOf(e)), {
    commitIntervalMs,
  });
  await waitFor("every event handled", () => handled.length === 4, 30_000);
  return { topic, groupId, handled, member };
}

describe("Kafka consumer wrapper", { timeout: 90_000 }, () => {
  test("ensureTopics creates only missing topics, with their partition counts", async () => {
    const topic = await newTopic(4);
    assert.deepEqual(await ensureTopics(kafka, [{ topic, numPartitions: 4 }]), []);
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    assert.equal(meta.topics[0]?.partitions.length, 4);
  });

  test("ensureTopics from many processes at once on new topics: every caller succeeds", async () => {
    // Services starting together on a fresh broker race to create the same topics.
    const names = [uniqueName("shopmesh-test-race"), uniqueName("shopmesh-test-race")];
    topics.push(...names);
    const specs = names.map((topic) => ({ topic, numPartitions: 3 }));
    const callers = Array.from({ length: 8 }, (_, i) =>
      createKafka({ clientId: `ensure-topics-race-${i}`, logger }),
    );
    const created = await Promise.all(callers.map((k) => ensureTopics(k, specs)));
    assert.equal(created.length, callers.length, "no caller failed");
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: names });
    await admin.disconnect();
    assert.deepEqual(
      meta.topics.map((t) => t.partitions.length),
      [3, 3],
    );
  });

  test("runs the handler inside the event's correlation id and the writer's trace", async () => {
    const topic = await newTopic(1);
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const spanContext = { traceId, spanId: "00f067aa0ba902b7", traceFlags: 1 };
    // What the platform's gRPC server stores for the request being served (no OTel SDK here).
    const traceContext = trace.setSpanContext(ROOT_CONTEXT, spanContext);
    const encoded = requestContext.run({ correlationId: "checkout-42", traceContext }, () =>
      encodeEvent({
        topic,
        aggregateType: "test",
        aggregateId: "order-1",
        eventType: "order.placed",
        producer: "kafka-consumer-test",
        payloadSchema: StructSchema,
        payload: fromJson(StructSchema, { n: 1 }),
      }),
    );
    await producer.send({ topic, messages: [toKafkaMessage(encoded)], ...SEND_OPTIONS });
    let seen: { event: ConsumedEvent; correlationId?: string; traceId?: string } | undefined;

    await consume(topic, uniqueName("g"), async (event) => {
      const store = requestContext.getStore();
      seen = {
        event,
        correlationId: store?.correlationId,
        traceId: store?.traceContext && trace.getSpanContext(store.traceContext)?.traceId,
      };
    });
    await waitFor("the event handled", () => seen !== undefined, 30_000);

    assert.equal(seen?.correlationId, "checkout-42");
    assert.equal(seen?.traceId, traceId);
    assert.equal(seen?.event.key, "order-1");
    assert.deepEqual(seen?.event.headers, {
      "event-type": "order.placed",
      "event-id": encoded.eventId,
      "correlation-id": "checkout-42",
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    assert.equal(seen?.event.envelope.eventId, encoded.eventId);
  });

  test("retries a failing handler in place; later events of the partition wait their turn", async () => {
    const topic = await newTopic(1);
    await publish(
      topic,
      [1, 2, 3].map((n) => ({ aggregateId: "a", n })),
    );
    const handled: number[] = [];
    let failures = 0;

    await consume(topic, uniqueName("g"), async (event) => {
      if (nOf(event) === 1 && failures < 2) {
        failures++;
        throw new Error("transient");
      }
      handled.push(nOf(event));
    });
    await waitFor("three events handled", () => handled.length === 3, 30_000);

    assert.equal(failures, 2);
    assert.deepEqual(handled, [1, 2, 3]);
  });

  test("pauses a partition whose handler keeps failing, keeps other partitions flowing, then resumes it", async () => {
    const topic = await newTopic(3);
    // Keys that land on different partitions (murmur2), so one can stall alone.
    await publish(topic, [
      { aggregateId: "stuck", n: 1 },
      ...[0, 1, 2, 3, 4, 5].map((i) => ({ aggregateId: `free-${i}`, n: i + 2 })),
    ]);
    const handled: number[] = [];
    let stuckFailures = 0;

    await consume(
      topic,
      uniqueName("g"),
      async (event) => {
        if (event.key === "stuck" && stuckFailures < 4) {
          stuckFailures++;
          throw new Error("downstream down");
        }
        handled.push(nOf(event));
      },
      { attempts: 2, pauseMs: 1_500 },
    );
    await waitFor("the other partitions' events", () => handled.some((n) => n !== 1), 30_000);
    await sleep(300);
    assert.equal(handled.includes(1), false, "the failing event is not skipped while paused");
    await waitFor("the paused event after resuming", () => handled.includes(1), 30_000);

    assert.equal(stuckFailures, 4);
    assert.equal(handled.filter((n) => n === 1).length, 1);
  });

  test("commits only handled events: a new member of the group starts at the one that failed", async () => {
    const topic = await newTopic(1);
    const groupId = uniqueName("g");
    await publish(
      topic,
      [1, 2, 3].map((n) => ({ aggregateId: "a", n })),
    );
    const first: number[] = [];
    const broken = await consume(
      topic,
      groupId,
      async (event) => {
        if (nOf(event) === 2) throw new Error("always fails");
        first.push(nOf(event));
      },
      { attempts: 1, pauseMs: 60_000 },
    );
    await waitFor("the first event handled", () => first.length === 1, 30_000);
    await sleep(500);
    await broken.stop();

    const second: number[] = [];
    await consume(topic, groupId, async (event) => {
      second.push(nOf(event));
    });
    await waitFor("the rest handled", () => second.length >= 2, 30_000);

    assert.deepEqual(first, [1]);
    assert.deepEqual(second, [2, 3]);
  });

  test("stop() commits what was handled though the commit interval has not come round: the next member starts after it", async () => {
    const { topic, groupId, handled: first, member } = await fourHandled(600_000);
    await member.stop();

    await publish(topic, [{ aggregateId: "a1", n: 5 }]);
    const second: number[] = [];
    await consume(topic, groupId, async (e) => void second.push(nOf(e)), {
      commitIntervalMs: 600_000,
    });
    await waitFor("the new event", () => second.length >= 1, 30_000);
    await sleep(500);

    assert.deepEqual(first.sort(), [1, 2, 3, 4]);
    assert.deepEqual(second, [5], "nothing the first member handled is redelivered");
  });

  test("a member that falls quiet commits what it handled once the interval has passed, without another batch or a stop", async () => {
    const { topic, groupId } = await fourHandled(500);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const committedTotal = async () => {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
        return offsets!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      };
      await waitFor(
        "the handled offsets committed",
        async () => (await committedTotal()) === 4,
        5_000,
      );
    } finally {
      await admin.disconnect();
    }
  });

  test("an idle member's connections keep no timer loop: a request queue checks itself only while requests wait", async () => {
    const topic = await newTopic(1);
    await consume(topic, uniqueName("g"), async () => {});
    const proto = requestQueuePrototype;
    const check = proto.checkPendingRequests;
    let checks = 0;
    proto.checkPendingRequests = function (this: typeof proto) {
      checks++;
      check.call(this);
    };
    try {
      await sleep(2_000);
    } finally {
      proto.checkPendingRequests = check;
    }
    // kafkajs 2.2.4 as released: about a thousand a second per open connection.
    assert.ok(checks < 100, `${checks} checks of the request queues in 2 s of idling`);
  });

  test("ownConnections: after closeAll() nothing of the client keeps the process alive, though its user never disconnected", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/kafka-left-open.ts", import.meta.url));
    const { stdout } = await run(process.execPath, ["--import", "tsx", fixture], {
      timeout: 20_000, // a socket or a kafkajs timer left behind would hold it until killed
    });
    const seen = JSON.parse(stdout) as { connected: number; afterCloseAll: number };
    assert.ok(seen.connected >= 1, "the admin held a connection");
    assert.equal(seen.afterCloseAll, 0);
    assert.throws(() => ownConnections({} as Kafka), /createKafka/);
  });

  test("skips a record that is not an event envelope instead of stalling on it", async () => {
    const topic = await newTopic(1);
    await producer.send({
      topic,
      messages: [{ key: "a", value: "not protobuf \u00ff" }],
      ...SEND_OPTIONS,
    });
    await publish(topic, [{ aggregateId: "a", n: 7 }]);
    const handled: number[] = [];

    await consume(topic, uniqueName("g"), async (event) => {
      handled.push(nOf(event));
    });
    await waitFor("the valid event", () => handled.length === 1, 30_000);

    assert.deepEqual(handled, [7]);
  });

  test("acknowledges the types it does not apply without handing them over, and moves past them", async () => {
    const topic = await newTopic(1);
    await publish(topic, [
      { aggregateId: "a", n: 1, eventType: "test.ignored" },
      { aggregateId: "a", n: 2 },
      { aggregateId: "a", n: 3, eventType: "test.ignored" },
      { aggregateId: "a", n: 4 },
    ]);
    const groupId = uniqueName("g");
    const handled: number[] = [];

    const first = await consume(topic, groupId, async (e) => void handled.push(nOf(e)), {
      eventTypes: ["test.counted"],
    });
    await waitFor("the wanted events", () => handled.length === 2, 30_000);
    await first.stop();
    await publish(topic, [{ aggregateId: "a", n: 5 }]);
    await consume(topic, groupId, async (e) => void handled.push(nOf(e)), {
      eventTypes: ["test.counted"],
    });
    await waitFor("the next event", () => handled.length === 3, 30_000);

    assert.deepEqual(handled, [2, 4, 5], "a restarted member resumes after the skipped records");
  });
});
