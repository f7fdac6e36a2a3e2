import { context } from "@opentelemetry/api";
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import { Counter, Gauge, type Registry, register } from "prom-client";
import { decodeEnvelope, EVENT_HEADERS, type EventEnvelope } from "./event-envelope.ts";
import { headersToStrings, ownConnections } from "./kafka.ts";
import { type Logger, requestContext } from "./logger.ts";
import { contextFromTraceparent } from "./telemetry.ts";

/** One decoded event as a consumer sees it. */
export interface ConsumedEvent {
  envelope: EventEnvelope;
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  headers: Record<string, string>;
}

/** Options of `startConsumer`; give exactly one of `handler` and `batchHandler`. */
export interface ConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topics: readonly string[];
  /** Applies one event; throwing means "not applied", and the event is retried. */
  handler?: (event: ConsumedEvent) => Promise<void>;
  /** Applies one partition's fetched events at once, in order; all or nothing. */
  batchHandler?: (events: ConsumedEvent[]) => Promise<void>;
  /**
   * The event types the handler applies. A record whose event-type header (set by the outbox
   * relay) names another type is acknowledged without being decoded: a consumer of a topic
   * usually wants few of its types, and decoding the rest cost more than applying the few.
   * Records without the header are decoded and handed over. Default: every type.
   */
  eventTypes?: readonly string[];
  logger: Logger;
  /**
   * Where a group with no committed offset starts: true misses nothing (what a service wants);
   * false starts at the end, as it stands at the member's first fetch after the join (what a
   * test's throwaway group on a shared topic wants). Services read it from KAFKA_FROM_BEGINNING.
   */
  fromBeginning: boolean;
  /** Partitions processed in parallel; order is kept within each partition. */
  partitionsConsumedConcurrently?: number;
  /** In-place attempts before the partition is paused (default 5). */
  attempts?: number;
  /** First retry delay, doubled per attempt up to `maxRetryDelayMs` (defaults 100 / 5000). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How long a partition stays paused after its attempts ran out (default 30 s). */
  pauseMs?: number;
  sessionTimeoutMs?: number;
  /**
   * Handled offsets are committed after a batch once this long has passed since the last
   * commit (default 1 s; 0: after every batch), and by `stop()`. A commit is a broker round
   * trip, and with one per fetched batch the commits outnumbered the events. A crash, or a
   * rebalance that moves the partition, redelivers up to that much; handlers are idempotent.
   */
  commitIntervalMs?: number;
  registry?: Registry;
}

/** A running consumer; `stop()` finishes the event in hand, commits, and leaves the group. */
export interface RunningConsumer {
  stop(): Promise<void>;
}

interface ConsumerMetrics {
  events: Counter<"group" | "topic" | "outcome">;
  paused: Gauge<"group">;
}
const metricsByRegistry = new WeakMap<Registry, ConsumerMetrics>();

function consumerMetrics(registry: Registry): ConsumerMetrics {
  let m = metricsByRegistry.get(registry);
  if (!m) {
    m = {
      events: new Counter({
        name: "kafka_consumer_events_total",
        help: "Events handled by Kafka consumers, by outcome: ok, retried, undecodable, skipped (a type the consumer does not apply).",
        labelNames: ["group", "topic", "outcome"],
        registers: [registry],
      }),
      paused: new Gauge({
        name: "kafka_consumer_paused_partitions",
        help: "Partitions paused because their handler kept failing.",
        labelNames: ["group"],
        registers: [registry],
      }),
    };
    metricsByRegistry.set(registry, m);
  }
  return m;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a consumer-group member that decodes each record's EventEnvelope and runs the handler
 * inside `requestContext` (the event's correlation id) and the producer's trace context.
 *
 * Offsets move only past events whose handler succeeded, so a crash redelivers (handlers
 * dedupe through the inbox). A failing handler is retried in place with exponential backoff;
 * when the attempts run out, that partition is paused for `pauseMs` and then re-fetched from
 * the failed event, while other partitions keep flowing: one bad event never crashes the
 * process or skips ahead. A record that is not an envelope can never succeed; it is logged
 * and skipped. kafkajs restarts the member after retriable crashes; this restarts it after
 * the others too. Resolves once the member joined its group, which after a crash of the
 * previous member can take up to the session timeout (the broker waits for it to expire).
 */
export async function startConsumer(options: ConsumerOptions): Promise<RunningConsumer> {
  if (!options.handler === !options.batchHandler) {
    throw new Error("startConsumer needs exactly one of handler and batchHandler");
  }
  const { groupId, logger } = options;
  // Its own connections, so that stop() can close every one of them (see ownConnections).
  const { kafka, closeAll } = ownConnections(options.kafka);
  const metrics = consumerMetrics(options.registry ?? register);
  const attempts = options.attempts ?? 5;
  const firstDelay = options.retryDelayMs ?? 100;
  const maxDelay = options.maxRetryDelayMs ?? 5_000;
  const pauseMs = options.pauseMs ?? 30_000;
  const commitIntervalMs = options.commitIntervalMs ?? 1_000;
  const resumeTimers = new Set<NodeJS.Timeout>();
  let stopped = false;
  let consumer: Consumer | undefined;
  let relaunch: NodeJS.Timeout | undefined;

  const wanted = options.eventTypes && new Set(options.eventTypes);
  /** Whether the record's header says it is of a type this consumer does not apply. */
  const unwanted = (topic: string, message: KafkaMessage) => {
    const header = message.headers?.[EVENT_HEADERS.eventType];
    if (!wanted || header === undefined) return false;
    const type = String(Array.isArray(header) ? header[0] : header);
    if (wanted.has(type)) return false;
    metrics.events.inc({ group: groupId, topic, outcome: "skipped" });
    return true;
  };

  const decode = (topic: string, partition: number, message: KafkaMessage) => {
    if (unwanted(topic, message)) return undefined;
    try {
      return {
        envelope: decodeEnvelope(message.value ?? new Uint8Array()),
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString(),
        headers: headersToStrings(message.headers),
      } satisfies ConsumedEvent;
    } catch (err) {
      metrics.events.inc({ group: groupId, topic, outcome: "undecodable" });
      logger.error(
        { err, topic, partition, offset: message.offset },
        "skipping a record that is not an EventEnvelope",
      );
      return undefined;
    }
  };

  /** Enters the event's correlation id and the producer's trace (single events only). */
  const runInContext = (events: ConsumedEvent[], fn: () => Promise<void>) => {
    const first = events.length === 1 ? events[0] : undefined;
    if (!first) return requestContext.run({}, fn);
    const traceContext = contextFromTraceparent(
      first.headers[EVENT_HEADERS.traceparent],
      undefined,
      context.active(),
    );
    const store = {
      correlationId: first.envelope.correlationId || first.headers[EVENT_HEADERS.correlationId],
      requestId: first.envelope.eventId,
      traceContext,
    };
    return context.with(traceContext, () => requestContext.run(store, fn));
  };

  /** Runs `fn` with retries; false when every attempt failed or the consumer is stopping. */
  const withRetries = async (
    payload: EachBatchPayload,
    events: ConsumedEvent[],
    fn: () => Promise<void>,
  ) => {
    const { topic, partition } = payload.batch;
    for (let attempt = 1; ; attempt++) {
      try {
        await runInContext(events, fn);
        return true;
      } catch (err) {
        metrics.events.inc({ group: groupId, topic, outcome: "retried" });
        const offset = events[0]?.offset;
        if (attempt >= attempts || !payload.isRunning() || stopped) {
          logger.error(
            { err, topic, partition, offset, attempt },
            "event handler keeps failing; pausing the partition",
          );
          return false;
        }
        logger.warn({ err, topic, partition, offset, attempt }, "event handler failed; retrying");
        await sleep(Math.min(maxDelay, firstDelay * 2 ** (attempt - 1)));
        await payload.heartbeat();
      }
    }
  };

  const pausePartition = (payload: EachBatchPayload) => {
    const resume = payload.pause();
    metrics.paused.inc({ group: groupId });
    const timer = setTimeout(() => {
      resumeTimers.delete(timer);
      metrics.paused.dec({ group: groupId });
      resume();
    }, pauseMs);
    resumeTimers.add(timer);
  };

  // Batches being handled, and the commit of what the newest one's member has resolved and
  // not committed yet: stop() waits for the first, then runs the second.
  const inHand = new Set<Promise<void>>();
  let commitResolved: (() => Promise<void>) | undefined;
  let lastCommit = Date.now();
  let commitTimer: NodeJS.Timeout | undefined;

  /**
   * Commits through the batch's own member, and only while it runs: a member that crashed has
   * been disconnected and its group generation is gone.
   */
  const committer = (payload: EachBatchPayload) => async () => {
    if (!payload.isRunning()) return;
    lastCommit = Date.now();
    await payload
      .commitOffsetsIfNecessary(payload.uncommittedOffsets())
      .catch((err: unknown) =>
        logger.warn({ err, groupId }, "offset commit failed; the next one carries it"),
      );
  };

  /**
   * Commits now if the interval has passed since the last commit, else once it has (a timer,
   * so that the last events before a quiet spell are committed too, and the group's lag a
   * monitor reads drops to zero).
   */
  const commitSoon = async () => {
    const wait = lastCommit + commitIntervalMs - Date.now();
    if (wait <= 0) return commitResolved?.();
    commitTimer ??= setTimeout(() => {
      commitTimer = undefined;
      if (!stopped) void commitResolved?.();
    }, wait).unref();
  };

  const eachBatch = async (payload: EachBatchPayload) => {
    commitResolved = committer(payload);
    if (stopped) return;
    const handling = handleBatch(payload).finally(() => inHand.delete(handling));
    inHand.add(handling);
    await handling;
    if (!stopped) await commitSoon();
  };

  const handleBatch = async (payload: EachBatchPayload) => {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    if (options.batchHandler) {
      const events = batch.messages.flatMap((m) => decode(batch.topic, batch.partition, m) ?? []);
      const handler = options.batchHandler;
      if (events.length > 0 && !(await withRetries(payload, events, () => handler(events)))) {
        pausePartition(payload);
        return;
      }
      metrics.events.inc({ group: groupId, topic: batch.topic, outcome: "ok" }, events.length);
      resolveOffset(batch.lastOffset());
      await heartbeat();
      return;
    }
    const handler = options.handler!;
    for (const message of batch.messages) {
      if (!isRunning() || isStale() || stopped) break;
      const event = decode(batch.topic, batch.partition, message);
      if (event && !(await withRetries(payload, [event], () => handler(event)))) {
        pausePartition(payload);
        break;
      }
      if (event) metrics.events.inc({ group: groupId, topic: batch.topic, outcome: "ok" });
      resolveOffset(message.offset);
      await heartbeat();
    }
  };

  const launch = async () => {
    const member = kafka.consumer({
      groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: 3_000,
      retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 10 },
    });
    member.on(member.events.CRASH, ({ payload }) => {
      if (payload.restart || stopped) return;
      logger.error({ err: payload.error, groupId }, "consumer crashed; starting a new member");
      void member.disconnect().catch(() => {});
      scheduleLaunch(1);
    });
    consumer = member;
    await member.connect();
    await member.subscribe({
      topics: [...options.topics],
      fromBeginning: options.fromBeginning,
    });
    await member.run({
      eachBatchAutoResolve: false,
      // The wrapper commits (commitIntervalMs): with autoCommit, kafkajs 2.2 commits after
      // every batch whatever its autoCommitInterval.
      autoCommit: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatch,
    });
  };

  /** Starts a replacement member after a fatal crash, retrying until Kafka takes it. */
  const scheduleLaunch = (attempt: number) => {
    relaunch = setTimeout(
      () => {
        if (stopped) return;
        launch().catch((err) => {
          logger.warn({ err, groupId, attempt }, "consumer restart failed; trying again");
          void consumer?.disconnect().catch(() => {});
          scheduleLaunch(attempt + 1);
        });
      },
      Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5)),
    );
  };

  try {
    await launch();
  } catch (err) {
    await consumer?.disconnect().catch(() => {});
    closeAll();
    throw err;
  }
  logger.info({ groupId, topics: options.topics }, "consumer started");

  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(relaunch);
      clearTimeout(commitTimer);
      for (const timer of resumeTimers) clearTimeout(timer);
      metrics.paused.dec({ group: groupId }, resumeTimers.size);
      // The batches in hand finish (no new one starts), then what they resolved is committed.
      await Promise.allSettled(inHand);
      await commitResolved?.();
      await consumer?.stop();
      await consumer?.disconnect();
      closeAll();
      logger.info({ groupId }, "consumer stopped");
    },
  };
}
