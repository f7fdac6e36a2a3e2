import {
  create,
  type DescMessage,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { anyPack, anyUnpack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Context, context, trace } from "@opentelemetry/api";
import {
  type EventEnvelope,
  EventEnvelopeSchema,
} from "@shopmesh/gen/shopmesh/events/v1/envelope_pb.js";
import { requestContext } from "./logger.ts";
import { traceparentOf } from "./telemetry.ts";
import { uuidv7 } from "./uuid-v7.ts";

export type { EventEnvelope };

/** Kafka header names every shopmesh event carries next to its envelope. */
export const EVENT_HEADERS = {
  eventType: "event-type",
  eventId: "event-id",
  correlationId: "correlation-id",
  traceparent: "traceparent",
} as const;

/** What a service says about an event it publishes; the platform fills in the rest. */
export interface NewEvent<Desc extends DescMessage = DescMessage> {
  /** Kafka topic, one per aggregate stream (DESIGN.md): "orders", "payments", ... */
  topic: string;
  /** Aggregate type, e.g. "order". */
  aggregateType: string;
  /** Record key on Kafka, so one aggregate's events stay on one partition, in order. */
  aggregateId: string;
  /** The seeds' event name, e.g. "order.placed". */
  eventType: string;
  /** Payload schema version; 1 unless the payload changed incompatibly. */
  eventVersion?: number;
  /** Name of the publishing service. */
  producer: string;
  payloadSchema: Desc;
  payload: MessageShape<Desc>;
  /** Defaults to a new UUIDv7. */
  eventId?: string;
  /** Defaults to the current request's correlation id, else this event's id. */
  correlationId?: string;
  /** The event or request that caused this one. */
  causationId?: string;
  occurredAt?: Date;
}

/** An event ready to store: the envelope bytes and the fields copied into Kafka headers. */
export interface EncodedEvent {
  topic: string;
  aggregateType: string;
  aggregateId: string;
  eventId: string;
  eventType: string;
  correlationId: string;
  traceparent: string | undefined;
  envelope: Uint8Array;
}

/**
 * Builds and serialises the EventEnvelope of a new event. Encoding happens at write time, in
 * the writer's request context, so the stored bytes carry that request's correlation id and
 * trace, and the relay only copies bytes.
 */
export function encodeEvent<Desc extends DescMessage>(event: NewEvent<Desc>): EncodedEvent {
  const eventId = event.eventId ?? uuidv7();
  const correlationId = event.correlationId ?? requestContext.getStore()?.correlationId ?? eventId;
  const envelope = create(EventEnvelopeSchema, {
    eventId,
    eventType: event.eventType,
    eventVersion: event.eventVersion ?? 1,
    occurredAt: timestampFromDate(event.occurredAt ?? new Date()),
    correlationId,
    causationId: event.causationId ?? "",
    aggregateId: event.aggregateId,
    aggregateType: event.aggregateType,
    producer: event.producer,
    payload: anyPack(event.payloadSchema, event.payload),
  });
  return {
    topic: event.topic,
    aggregateType: event.aggregateType,
    aggregateId: event.aggregateId,
    eventId,
    eventType: event.eventType,
    correlationId,
    traceparent: traceparentOf(writerTraceContext()),
    envelope: toBinary(EventEnvelopeSchema, envelope),
  };
}

/**
 * The trace the event belongs to: the OTel context manager's when an SDK installed one, else
 * the one the platform stored in `requestContext` for the request being served (without an SDK
 * there is no context manager, and the trace must still reach the consumer).
 */
function writerTraceContext(): Context {
  const active = context.active();
  if (trace.getSpanContext(active)) return active;
  return requestContext.getStore()?.traceContext ?? active;
}

/** Parses envelope bytes from a Kafka record value. */
export function decodeEnvelope(bytes: Uint8Array): EventEnvelope {
  return fromBinary(EventEnvelopeSchema, bytes);
}

/**
 * Unpacks an envelope's payload as the given message type; throws when the event carries a
 * different type, since handling it as this one would silently read garbage.
 */
export function unpackPayload<Desc extends DescMessage>(
  envelope: EventEnvelope,
  schema: Desc,
): MessageShape<Desc> {
  const payload = envelope.payload ? anyUnpack(envelope.payload, schema) : undefined;
  if (!payload) {
    throw new Error(
      `event ${envelope.eventId} (${envelope.eventType}) carries ${envelope.payload?.typeUrl ?? "no payload"}, not ${schema.typeName}`,
    );
  }
  return payload;
}
