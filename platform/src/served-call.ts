import { create, type DescMethod, isMessage, type Message } from "@bufbuild/protobuf";
import {
  type Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import { type Context, context as otelContext, type Span } from "@opentelemetry/api";
import { toStatus } from "./errors.ts";
import { CallContext, type Principal } from "./handler-context.ts";
import { type Logger, requestContext } from "./logger.ts";
import type { MethodStats } from "./metrics.ts";
import { methodPath } from "./service-definition.ts";
import { contextWithSpan, endRpcSpan, extractTraceContext, startRpcSpan } from "./telemetry.ts";
import { validateMessage } from "./validation.ts";

/**
 * Establishes who is calling from the request metadata, before validation and the handler.
 * Return undefined for anonymous calls; throw an `UnauthenticatedError` to reject the call.
 */
export type Authenticate = (
  metadata: Metadata,
  path: string,
) => Principal | undefined | Promise<Principal | undefined>;

/** Everything about one method the pipeline needs, computed once when the service is added. */
export interface MethodPipeline {
  method: DescMethod;
  path: string;
  stats: MethodStats;
  logger: Logger;
  authenticate: Authenticate | undefined;
  /** The service's handler: returns (a promise of) the response, or an async iterable of them. */
  handler: (request: Message, context: CallContext) => unknown;
}

/** Builds the per-method part of the pipeline. */
export function methodPipeline(
  method: DescMethod,
  handler: MethodPipeline["handler"],
  stats: MethodStats,
  logger: Logger,
  authenticate: Authenticate | undefined,
): MethodPipeline {
  return { method, path: methodPath(method), stats, logger, authenticate, handler };
}

type UnaryCall = ServerUnaryCall<Message, Message>;
type StreamingCall = ServerWritableStream<Message, Message>;

/**
 * One call going through the server pipeline: trace context and correlation id from metadata,
 * authentication, protovalidate validation (INVALID_ARGUMENT before the handler runs), the
 * handler, error mapping through `toStatus`, metrics and a span.
 *
 * A class with methods rather than a function of closures, and synchronous until something
 * really awaits, because this runs for every RPC: each closure and promise per call showed in
 * throughput (on Node 20 each promise also pays for the AsyncLocalStorage hooks).
 */
export class ServedCall {
  private readonly started = performance.now();
  private readonly ctx: CallContext;
  private readonly span: Span;

  private constructor(
    private readonly pipeline: MethodPipeline,
    private readonly call: UnaryCall | StreamingCall,
    private readonly callback: sendUnaryData<Message> | undefined,
  ) {
    this.ctx = new CallContext(pipeline.path, call);
    const parent = extractTraceContext(call.metadata);
    const { method } = pipeline;
    this.span = startRpcSpan("server", method.parent.typeName, method.name, parent);
    this.ctx.traceContext = contextWithSpan(parent, this.span);
  }

  /** The grpc-js handler of a unary method. */
  static unary(pipeline: MethodPipeline) {
    return (call: UnaryCall, callback: sendUnaryData<Message>) => {
      new ServedCall(pipeline, call, callback).start();
    };
  }

  /** The grpc-js handler of a server-streaming method. */
  static serverStreaming(pipeline: MethodPipeline) {
    return (call: StreamingCall) => {
      new ServedCall(pipeline, call, undefined).start();
    };
  }

  /** The OpenTelemetry context of the call's span. */
  traceContext(): Context {
    return this.ctx.traceContext!;
  }

  private start(): void {
    requestContext.run(this.ctx, enterTraceContext, this);
  }

  /** Runs the pipeline inside the call's request and trace contexts. */
  run(): void {
    let result: unknown;
    try {
      result = this.pipeline.authenticate ? this.authenticateThenHandle() : this.handle();
    } catch (err) {
      this.failed(err);
      return;
    }
    if (isPromiseLike(result)) {
      result.then(
        (value) => this.succeeded(value),
        (err: unknown) => this.failed(err),
      );
    } else {
      this.succeeded(result);
    }
  }

  private authenticateThenHandle(): unknown {
    const principal = this.pipeline.authenticate!(this.ctx.metadata, this.pipeline.path);
    if (!isPromiseLike(principal)) {
      this.ctx.principal = principal;
      return this.handle();
    }
    return principal.then((resolved) => {
      this.ctx.principal = resolved;
      return this.handle();
    });
  }

  private handle(): unknown {
    validateMessage(this.pipeline.method.input, this.call.request);
    const result = this.pipeline.handler(this.call.request, this.ctx);
    return this.callback ? result : this.stream(result as AsyncIterable<unknown>);
  }

  private async stream(responses: AsyncIterable<unknown>): Promise<void> {
    const call = this.call as StreamingCall;
    for await (const value of responses) {
      if (call.cancelled) return;
      if (!call.write(this.toResponse(value))) {
        await new Promise((resolve) => call.once("drain", resolve));
      }
    }
    call.end();
  }

  private succeeded(value: unknown): void {
    if (this.callback) {
      let response: Message;
      try {
        response = this.toResponse(value);
      } catch (err) {
        this.failed(err); // the handler returned something that is not a valid response
        return;
      }
      this.callback(null, response);
    }
    this.finish(status.OK);
  }

  private failed(err: unknown): void {
    if (this.call.cancelled || this.ctx.timeRemaining() === 0) {
      // The caller is gone and already has its status; what the handler threw is most likely
      // the abort of its own signal, not a bug, so it is neither logged nor counted as INTERNAL.
      const code = this.ctx.timeRemaining() === 0 ? status.DEADLINE_EXCEEDED : status.CANCELLED;
      this.finish(code, "the caller gave up");
      return;
    }
    const mapped = toStatus(err);
    if (mapped.unexpected) {
      this.pipeline.logger.error(
        { err, path: this.pipeline.path },
        "handler failed with an unexpected error",
      );
    }
    this.finish(mapped.code, mapped.details);
    if (this.callback) this.callback(mapped);
    else this.call.emit("error", mapped);
  }

  private finish(code: number, message?: string): void {
    this.ctx.dispose();
    this.pipeline.stats.record(code, (performance.now() - this.started) / 1000);
    endRpcSpan(this.span, code, message);
  }

  private toResponse(value: unknown): Message {
    const schema = this.pipeline.method.output;
    return isMessage(value, schema) ? value : create(schema, value as never);
  }
}

function enterTraceContext(served: ServedCall): void {
  otelContext.with(served.traceContext(), served.run, served);
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}
