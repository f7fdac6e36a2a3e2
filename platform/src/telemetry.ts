import type { Metadata } from "@grpc/grpc-js";
import {
  type Context,
  context,
  createTraceState,
  isSpanContextValid,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from "@opentelemetry/api";

/** Header names of the W3C Trace Context, carried as gRPC metadata and Kafka headers. */
export const TRACEPARENT = "traceparent";
const TRACESTATE = "tracestate";

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-|$)/;

/**
 * The platform's tracer. Without an OpenTelemetry SDK registered it is a no-op that still
 * carries the incoming trace id through, so traceparent survives every hop; a service that
 * registers an SDK in main.ts gets real spans with no code change here.
 */
export function tracer(): Tracer {
  return trace.getTracer("@shopmesh/platform");
}

/**
 * Parses a W3C `traceparent` (and `tracestate`) value into a context whose remote parent is the
 * caller's span. Done here rather than through `propagation.extract` because the API package
 * ships no propagator: without an SDK the global one is a no-op and the trace would break.
 */
export function contextFromTraceparent(
  traceparent: string | undefined,
  tracestate?: string,
  parent: Context = context.active(),
): Context {
  if (!traceparent) return parent;
  const match = TRACEPARENT_RE.exec(traceparent.trim());
  if (!match) return parent;
  const spanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(tracestate ? { traceState: createTraceState(tracestate) } : {}),
  };
  if (!isSpanContextValid(spanContext)) return parent;
  return trace.setSpanContext(parent, spanContext);
}

/** The `traceparent` header value naming the span active in `ctx`, or undefined when none. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  const span = trace.getSpanContext(ctx);
  if (!span || !isSpanContextValid(span)) return undefined;
  const flags = (span.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, "0");
  return `00-${span.traceId}-${span.spanId}-${flags}`;
}

/** Writes the active trace context into outgoing gRPC metadata. */
export function injectTraceContext(metadata: Metadata, ctx: Context = context.active()): void {
  const traceparent = traceparentOf(ctx);
  if (!traceparent) return;
  metadata.set(TRACEPARENT, traceparent);
  const state = trace.getSpanContext(ctx)?.traceState?.serialize();
  if (state) metadata.set(TRACESTATE, state);
}

/** Reads the caller's trace context from incoming gRPC metadata. */
export function extractTraceContext(metadata: Metadata): Context {
  const [traceparent] = metadata.get(TRACEPARENT);
  if (typeof traceparent !== "string") return context.active();
  const [tracestate] = metadata.get(TRACESTATE);
  return contextFromTraceparent(
    traceparent,
    typeof tracestate === "string" ? tracestate : undefined,
  );
}

/**
 * Starts the span of one RPC, named `package.Service/Method` as the OpenTelemetry RPC semantic
 * conventions ask, with `rpc.*` attributes.
 */
export function startRpcSpan(
  kind: "server" | "client",
  service: string,
  method: string,
  parent: Context,
): Span {
  return tracer().startSpan(
    `${service}/${method}`,
    {
      kind: kind === "server" ? SpanKind.SERVER : SpanKind.CLIENT,
      attributes: { "rpc.system": "grpc", "rpc.service": service, "rpc.method": method },
    },
    parent,
  );
}

/**
 * `parent` with `span` as its active span. When the span is the no-op API's (no SDK), it only
 * carries the parent's span context, so `parent` is returned as is: same trace propagation,
 * without a context copy per call.
 */
export function contextWithSpan(parent: Context, span: Span): Context {
  if (!span.isRecording()) {
    const spanContext = span.spanContext();
    if (spanContext === trace.getSpanContext(parent) || !isSpanContextValid(spanContext)) {
      return parent;
    }
  }
  return trace.setSpan(parent, span);
}

/** Ends an RPC span with its gRPC status code; any code but OK marks the span as an error. */
export function endRpcSpan(span: Span, code: number, message?: string): void {
  span.setAttribute("rpc.grpc.status_code", code);
  if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
  span.end();
}
