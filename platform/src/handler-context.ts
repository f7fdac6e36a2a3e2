import { randomUUID } from "node:crypto";
import type {
  DescMessage,
  DescMethod,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import type { Metadata, ServerUnaryCall } from "@grpc/grpc-js";
import type { Context } from "@opentelemetry/api";
import type { RequestContext } from "./logger.ts";

/** The part of a grpc-js server call the context reads; unary and streaming calls both have it. */
type ServerCall = Pick<
  ServerUnaryCall<unknown, unknown>,
  "metadata" | "getDeadline" | "getPeer" | "cancelled" | "once" | "removeListener"
>;

/** Metadata key of the id that follows one business transaction across services and events. */
export const CORRELATION_ID = "x-correlation-id";

/**
 * Who is calling, as established by the server's `authenticate` hook (a verified JWT later).
 * Domain-free on purpose: services decide what a subject or role means.
 */
export interface Principal {
  subject: string;
  roles: readonly string[];
  claims?: Readonly<Record<string, unknown>>;
}

/**
 * Everything a handler may need about the call besides the request. Pass `signal` (or
 * `deadline`) down to client calls and database queries so work stops when the caller gives up.
 */
export interface HandlerContext {
  /** The RPC's path, `/package.Service/Method`. */
  readonly path: string;
  /** Incoming request metadata (headers), e.g. `authorization`. */
  readonly metadata: Metadata;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** Absolute deadline in epoch milliseconds; `Infinity` when the caller set none. */
  readonly deadline: number;
  /** Milliseconds left before the deadline (`Infinity` when none), never negative. */
  timeRemaining(): number;
  /** The caller's `x-correlation-id`, or a fresh one when it sent none. */
  readonly correlationId: string;
  /** Unique id of this call, for logs. */
  readonly requestId: string;
  /** The caller's address as grpc-js reports it, e.g. `ipv4:127.0.0.1:53012`. */
  readonly peer: string;
  /** Set by the server's `authenticate` hook; undefined when there is none or it returned none. */
  readonly principal: Principal | undefined;
}

/** A unary handler: receives the validated request, returns (or resolves to) the response. */
export type UnaryImpl<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: HandlerContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/** A server-streaming handler: an async generator of responses. */
export type ServerStreamingImpl<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  context: HandlerContext,
) => AsyncIterable<MessageInitShape<O>>;

/**
 * The handler type of one method descriptor, picked by its streaming kind. For a descriptor whose
 * kind is not known statically (a plain `DescMethod`, e.g. from a runtime registry), either shape.
 */
export type MethodImpl<M extends DescMethod> = DescMethod["methodKind"] extends M["methodKind"]
  ? UnaryImpl<M["input"], M["output"]> | ServerStreamingImpl<M["input"], M["output"]>
  : M extends {
        methodKind: "unary";
        input: infer I extends DescMessage;
        output: infer O extends DescMessage;
      }
    ? UnaryImpl<I, O>
    : M extends {
          methodKind: "server_streaming";
          input: infer I extends DescMessage;
          output: infer O extends DescMessage;
        }
      ? ServerStreamingImpl<I, O>
      : never;

/**
 * The implementation of a whole service, typed from its generated descriptor: one handler per
 * RPC, keyed by the RPC's local name (`getProduct`), in the manner of connect-es.
 */
export type ServiceImpl<S extends DescService> = {
  [K in keyof S["method"]]: MethodImpl<S["method"][K]>;
};

/**
 * The context of one call; it is also the call's {@link RequestContext}, so logs and outgoing
 * client calls see its ids, deadline and trace. Ids are generated, and the AbortController and
 * its deadline timer created, only when something reads them: most fast handlers never do, and
 * every allocation per call shows in throughput.
 */
export class CallContext implements HandlerContext, RequestContext {
  readonly deadline: number;
  readonly peer: string;
  principal: Principal | undefined = undefined;
  /** The OpenTelemetry context of the call's span; set by the server before the handler runs. */
  traceContext: Context | undefined = undefined;
  private correlation: string | undefined;
  private id: string | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private onCancel: (() => void) | undefined;

  constructor(
    readonly path: string,
    private readonly call: ServerCall,
  ) {
    this.peer = call.getPeer();
    const deadline = call.getDeadline();
    this.deadline = typeof deadline === "number" ? deadline : deadline.getTime();
    const [correlationId] = call.metadata.get(CORRELATION_ID);
    if (typeof correlationId === "string" && correlationId !== "") this.correlation = correlationId;
  }

  get correlationId(): string {
    this.correlation ??= randomUUID();
    return this.correlation;
  }

  get requestId(): string {
    this.id ??= randomUUID();
    return this.id;
  }

  get metadata(): Metadata {
    return this.call.metadata;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      if (this.call.cancelled) controller.abort(new Error("call cancelled by the client"));
      this.onCancel = () => controller.abort(new Error("call cancelled by the client"));
      this.call.once("cancelled", this.onCancel);
      if (Number.isFinite(this.deadline)) {
        this.timer = setTimeout(
          () => controller.abort(new Error("deadline exceeded")),
          Math.max(0, this.deadline - Date.now()),
        );
      }
    }
    return this.controller.signal;
  }

  timeRemaining(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  /** Releases the timer and listener once the call has finished. */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.onCancel) this.call.removeListener("cancelled", this.onCancel);
  }
}
