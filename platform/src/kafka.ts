import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import tls from "node:tls";
import {
  type Admin,
  CompressionTypes,
  type IHeaders,
  type ISocketFactory,
  Kafka,
  type KafkaConfig,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
  type RetryOptions,
} from "kafkajs";
import { EVENT_HEADERS } from "./event-envelope.ts";
// Replaces the idle timer loop of every kafkajs client in the process (see the module).
import "./kafkajs-request-queue.ts";
import type { Logger } from "./logger.ts";

export type { Kafka, Producer };

/** Options of `createKafka`. */
export interface KafkaOptions {
  /** Shown in broker logs and quotas; use the service name. */
  clientId: string;
  /** "host:port,host:port" or a list; defaults to the KAFKA_BROKERS environment variable. */
  brokers?: string | readonly string[];
  logger?: Logger;
  /** kafkajs' own retry policy for requests (metadata, produce, fetch). */
  retry?: RetryOptions;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** Splits a KAFKA_BROKERS style list; throws when none is configured, naming the variable. */
export function parseBrokers(brokers: string | readonly string[] | undefined): string[] {
  const list = (typeof brokers === "string" ? brokers.split(",") : (brokers ?? []))
    .map((b) => b.trim())
    .filter(Boolean);
  if (list.length === 0) {
    throw new Error("no Kafka brokers configured: set KAFKA_BROKERS, e.g. 127.0.0.1:9092");
  }
  return list;
}

const pinoLevel = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
  [logLevel.NOTHING]: "silent",
} as const;

/** The settings of each client `createKafka` made, so `ownConnections` can make one alike. */
const settings = new WeakMap<Kafka, KafkaConfig>();

/**
 * Creates the kafkajs client of one service, logging through the service's pino logger (WARN
 * and above: kafkajs' INFO lines narrate every group join).
 */
export function createKafka(options: KafkaOptions): Kafka {
  const { logger } = options;
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: parseBrokers(options.brokers ?? process.env.KAFKA_BROKERS),
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    retry: options.retry ?? { initialRetryTime: 200, maxRetryTime: 5_000, retries: 8 },
    logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
    logCreator:
      () =>
      ({ namespace, level, log }) => {
        if (!logger) return;
        const { message, timestamp: _t, logger: _l, ...fields } = log;
        const method = pinoLevel[level as keyof typeof pinoLevel] ?? "info";
        if (method !== "silent") logger[method]({ kafkajs: namespace, ...fields }, message);
      },
  };
  const kafka = new Kafka(config);
  settings.set(kafka, config);
  return kafka;
}

/** A client of one's own whose every connection `closeAll()` ends. */
export interface OwnedKafka {
  kafka: Kafka;
  /** Destroys the sockets still open; call after the client's users disconnected. */
  closeAll(): void;
}

/**
 * A client with `kafka`'s settings (it must come from `createKafka`) that keeps hold of its
 * sockets. Why: a kafkajs 2.2 consumer group keeps its group coordinator's Broker across a
 * broker restart, outside the pool that `disconnect()` closes, and its next request (a
 * heartbeat, the LeaveGroup of a stop) reconnects it: without `closeAll` that socket outlives
 * the consumer and keeps the process alive.
 */
export function ownConnections(kafka: Kafka): OwnedKafka {
  const config = settings.get(kafka);
  if (!config) throw new Error("ownConnections needs a client made by createKafka");
  const sockets = new Set<net.Socket>();
  // kafkajs' own socket factory, plus the bookkeeping.
  const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect(
          { host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl },
          onConnect,
        )
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    return socket;
  };
  return {
    kafka: new Kafka({ ...config, socketFactory }),
    closeAll() {
      for (const socket of sockets) {
        socket.destroy();
        // What a broker's close would signal: kafkajs then ends the connection's bookkeeping
        // (its request-timeout interval would otherwise keep the process alive).
        socket.emit("end");
      }
    },
  };
}

/** Options of `createIdempotentProducer`. */
export interface ProducerOptions {
  /** Let the broker create unknown topics; off so a typo fails instead of making a topic. */
  allowAutoTopicCreation?: boolean;
}

/**
 * Creates an idempotent producer: the broker drops retried duplicates within one producer
 * session, and with one request in flight per broker a retry cannot overtake a later batch,
 * so per-partition order holds across retries. kafkajs then retries retriable errors without
 * limit (an outage makes `send` wait rather than fail). Partitioning is Java-compatible murmur2
 * on the key, so other clients agree on an aggregate's partition.
 */
export function createIdempotentProducer(kafka: Kafka, options: ProducerOptions = {}): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: options.allowAutoTopicCreation ?? false,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { initialRetryTime: 100, maxRetryTime: 2_000, retries: Number.MAX_SAFE_INTEGER },
  });
}

/** The producer settings every send of an idempotent producer must use. */
export const SEND_OPTIONS = { acks: -1, compression: CompressionTypes.None } as const;

/** A topic a service needs, with the partition count it is created with. */
export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Defaults to `ensureTopics`' replicationFactor. */
  replicationFactor?: number;
  /** Topic configs, e.g. `{ "retention.ms": "604800000" }`. */
  config?: Record<string, string>;
}

/**
 * Errors of services racing to create the same topics on a fresh broker: another process created
 * a topic between our list and create, or a new topic's metadata has not reached the broker's
 * cache yet. Both settle within moments; the next attempt sees the topic.
 */
const TOPIC_RACE_ERRORS = new Set([
  "TOPIC_ALREADY_EXISTS",
  "UNKNOWN_TOPIC_OR_PARTITION",
  "LEADER_NOT_AVAILABLE",
]);

/** True when `err` (or an error it wraps) is one of {@link TOPIC_RACE_ERRORS}. */
function isTopicRace(err: unknown): boolean {
  const e = err as { type?: string; cause?: unknown; errors?: unknown[] } | undefined;
  if (!e) return false;
  if (e.type && TOPIC_RACE_ERRORS.has(e.type)) return true;
  return isTopicRace(e.cause) || (e.errors ?? []).some(isTopicRace);
}

/**
 * Creates the topics that are missing, with their partition counts, and returns their names.
 * Existing topics are left alone: adding partitions would move keys between partitions and
 * break per-aggregate order, so a smaller existing count is only logged. Replication defaults
 * to 1 (one local broker); production passes 3. Services starting together on a fresh broker
 * race to create the same topics; the losing side retries until the topics are visible.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly TopicSpec[],
  options: { replicationFactor?: number; logger?: Logger } = {},
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  const created: string[] = [];
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        created.push(...(await createMissingTopics(admin, topics, options)));
        await warnAboutFewerPartitions(admin, topics, options.logger);
        return created;
      } catch (err) {
        if (attempt >= 10 || !isTopicRace(err)) throw err;
        options.logger?.debug({ err, attempt }, "topics are being created elsewhere; retrying");
        await sleep(100 * attempt);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Creates the topics `admin` does not list yet; returns their names. */
async function createMissingTopics(
  admin: Admin,
  topics: readonly TopicSpec[],
  options: { replicationFactor?: number; logger?: Logger },
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return [];
  await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((t) => ({
      topic: t.topic,
      numPartitions: t.numPartitions,
      replicationFactor: t.replicationFactor ?? options.replicationFactor ?? 1,
      configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
    })),
  });
  options.logger?.info({ topics: missing.map((t) => t.topic) }, "created Kafka topics");
  return missing.map((t) => t.topic);
}

/** Logs topics that exist with fewer partitions than configured (reading also proves them served). */
async function warnAboutFewerPartitions(
  admin: Admin,
  topics: readonly TopicSpec[],
  logger: Logger | undefined,
): Promise<void> {
  const metadata = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
  for (const meta of metadata.topics) {
    const wanted = topics.find((t) => t.topic === meta.name)?.numPartitions ?? 0;
    if (meta.partitions.length < wanted) {
      logger?.warn(
        { topic: meta.name, partitions: meta.partitions.length, wanted },
        "topic has fewer partitions than configured; not changing it (keys would move)",
      );
    }
  }
}

/** The fields of a stored event that go into its Kafka record. */
export interface EventRecordFields {
  aggregateId: string;
  eventId: string;
  eventType: string;
  correlationId?: string | null;
  traceparent?: string | null;
  envelope: Uint8Array;
}

/**
 * The Kafka record of an event: key = aggregate id (one aggregate, one partition, one order),
 * value = envelope bytes, and the `event-type`, `event-id`, `correlation-id` and `traceparent`
 * headers, so brokers' tools and consumers can route and trace without decoding the value.
 */
export function toKafkaMessage(event: EventRecordFields): Message {
  const headers: Record<string, string> = {
    [EVENT_HEADERS.eventType]: event.eventType,
    [EVENT_HEADERS.eventId]: event.eventId,
  };
  if (event.correlationId) headers[EVENT_HEADERS.correlationId] = event.correlationId;
  if (event.traceparent) headers[EVENT_HEADERS.traceparent] = event.traceparent;
  const value = Buffer.isBuffer(event.envelope)
    ? event.envelope
    : Buffer.from(event.envelope.buffer, event.envelope.byteOffset, event.envelope.byteLength);
  return { key: event.aggregateId, value, headers };
}

/** Converts kafkajs headers (Buffer, string or repeated) to a plain string map. */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.toString();
  }
  return out;
}

export type { Message as KafkaMessage };
