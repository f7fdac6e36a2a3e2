import { AsyncLocalStorage } from "node:async_hooks";
import { type Context, trace } from "@opentelemetry/api";
import { type Logger, pino } from "pino";

export type { Logger };

/** Per-request context carried through async calls so every log line can name its request. */
export interface RequestContext {
  correlationId?: string;
  requestId?: string;
  /**
   * Absolute deadline (epoch ms) of the RPC being served, so outgoing client calls made while
   * serving it inherit the caller's deadline instead of outliving it.
   */
  deadline?: number;
  /**
   * OpenTelemetry context of the request (its span). Kept here as well as in the OTel context
   * manager because without an SDK there is no context manager, and trace ids must still reach
   * logs and outgoing calls.
   */
  traceContext?: Context;
}

/** Holds the current request's context; the gRPC server and Kafka consumers enter it. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

/**
 * Creates the structured JSON logger of one service. Every line carries the service name and,
 * when known, the active trace id and correlation id, so logs join up with traces across services.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const fields: Record<string, string> = {};
      const ctx = requestContext.getStore();
      const span =
        trace.getActiveSpan()?.spanContext() ??
        (ctx?.traceContext && trace.getSpanContext(ctx.traceContext));
      if (span) fields.traceId = span.traceId;
      if (ctx?.correlationId) fields.correlationId = ctx.correlationId;
      if (ctx?.requestId) fields.requestId = ctx.requestId;
      return fields;
    },
  });
}
