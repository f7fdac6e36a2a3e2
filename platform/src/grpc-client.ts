import { setTimeout as sleep } from "node:timers/promises";
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  isMessage,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client as GrpcChannel,
  credentials as grpcCredentials,
  Metadata,
  status,
} from "@grpc/grpc-js";
import { type Context, context as otelContext, trace } from "@opentelemetry/api";
import {
  type Breaker,
  type BreakerOptions,
  CircuitOpenError,
  createBreaker,
} from "./circuit-breaker.ts";
import { RpcError } from "./errors.ts";
import { CORRELATION_ID } from "./handler-context.ts";
import { requestContext } from "./logger.ts";
import { type Registry, type RpcMetricSet, rpcMetrics } from "./metrics.ts";
import { backoffMs, type RetryOptions, retryPolicy } from "./retry-policy.ts";
import { deserializer, methodPath, serializer } from "./service-definition.ts";
import { contextWithSpan, endRpcSpan, injectTraceContext, startRpcSpan } from "./telemetry.ts";

/** Options of {@link createClient}, shared by every call the client makes. */
export interface ClientOptions {
  /** Deadline of each attempt, in ms. Default 2000. */
  timeoutMs?: number;
  /** Retry behaviour; reads retry up to 3 attempts by default. */
  retry?: RetryOptions;
  /**
   * Breaker thresholds, or false to call without a breaker. A breaker is shared by every client
   * of the same (address, method), so the first client created for it sets its thresholds.
   */
  breaker?: BreakerOptions | false;
  /** Metadata sent with every call (e.g. a service token). */
  metadata?: Record<string, string>;
  /** Channel credentials; insecure by default, since the Istio sidecar does mTLS. */
  credentials?: ChannelCredentials;
  /** Raw grpc-js channel options, applied when the address's channel is first created. */
  channelOptions?: ChannelOptions;
  /** Where client metrics and breaker state go; the process-wide registry by default. */
  registry?: Registry;
}

/** Per-call options, the last argument of every client method. */
export interface CallOptions {
  /** Deadline of each attempt, in ms, overriding the client's. */
  timeoutMs?: number;
  /**
   * Absolute deadline (epoch ms) no attempt may outlive. Inside a handler the served call's
   * deadline applies on its own; pass `ctx.deadline` only to make that explicit.
   */
  deadline?: number;
  /** Cancels the call (and its retries) when aborted, e.g. a handler's `ctx.signal`. */
  signal?: AbortSignal;
  /** Extra request metadata, e.g. the caller's `authorization`. */
  metadata?: Record<string, string> | Metadata;
}

type UnaryMethod<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

type ServerStreamingMethod<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

/**
 * A typed client of service `S`: one method per RPC, keyed by local name (`getProduct`).
 * Unary methods resolve to the response or reject with an {@link RpcError}; server-streaming
 * methods return an async iterable (deadline, no retry or breaker).
 */
export type Client<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends {
    methodKind: "unary";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  }
    ? UnaryMethod<I, O>
    : S["method"][K] extends {
          methodKind: "server_streaming";
          input: infer I extends DescMessage;
          output: infer O extends DescMessage;
        }
      ? ServerStreamingMethod<I, O>
      : never;
};

// One channel per address, shared by every client of every service there, as gRPC intends:
// a channel multiplexes all calls over one HTTP/2 connection.
const channels = new Map<string, GrpcChannel>();
const breakers = new Map<string, Breaker>();

// grpc-js waits 1 s (growing to 120 s) before reconnecting to a target that refused it, and fails
// calls at once meanwhile; retries spaced by tens of milliseconds would all land in that window.
// Reconnecting sooner lets a read's retries find a restarted pod.
// Channelz (per-call tracing counters, on by default) is off: nothing reads it, and it costs
// every call.
const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 5_000,
  "grpc.enable_channelz": 0,
};

function channelFor(address: string, options: ClientOptions): GrpcChannel {
  let channel = channels.get(address);
  if (!channel) {
    channel = new GrpcChannel(address, options.credentials ?? grpcCredentials.createInsecure(), {
      ...DEFAULT_CHANNEL_OPTIONS,
      ...options.channelOptions,
    });
    channels.set(address, channel);
  }
  return channel;
}

/**
 * Creates a typed client of `service` at `address` (`host:port`). Every call gets a deadline,
 * a circuit breaker per (address, method), retries with jittered exponential backoff when the
 * method is a read or the write carries an idempotency key, and the current correlation id and
 * W3C trace context in its metadata. Failures reject with an {@link RpcError}.
 */
export function createClient<S extends DescService>(
  service: S,
  address: string,
  options: ClientOptions = {},
): Client<S> {
  const channel = channelFor(address, options);
  const metrics = rpcMetrics(options.registry).client;
  const client: Record<string, unknown> = {};
  for (const method of service.methods) {
    if (method.methodKind === "unary") {
      client[method.localName] = unaryMethod(method, address, channel, options, metrics);
    } else if (method.methodKind === "server_streaming") {
      client[method.localName] = serverStreamingMethod(method, channel, options);
    }
  }
  return client as Client<S>;
}

/** Closes every shared channel and stops every breaker; the last shutdown step of a process. */
export function closeClients(): void {
  for (const channel of channels.values()) channel.close();
  for (const breaker of breakers.values()) breaker.shutdown();
  channels.clear();
  breakers.clear();
}

function unaryMethod(
  method: DescMethod,
  address: string,
  channel: GrpcChannel,
  options: ClientOptions,
  metrics: RpcMetricSet,
) {
  const path = methodPath(method);
  const serialize = serializer(method.input);
  const deserialize = deserializer(method.output);
  const retryableFor = retryPolicy(method, options.retry);
  const maxAttempts = Math.max(1, options.retry?.maxAttempts ?? 3);
  const serviceName = method.parent.typeName;
  const stats = metrics.method(serviceName, method.name);
  let breaker: Breaker | undefined;
  if (options.breaker !== false) {
    const key = `${address}${path}`;
    breaker = breakers.get(key);
    if (!breaker) {
      breaker = createBreaker(address, path.slice(1), options.breaker, options.registry);
      breakers.set(key, breaker);
    }
  }

  const attempt = (request: Message, metadata: Metadata, deadline: number, signal?: AbortSignal) =>
    new Promise<Message>((resolve, reject) => {
      const call = channel.makeUnaryRequest(
        path,
        serialize,
        deserialize,
        request,
        metadata,
        { deadline },
        (err, response) => {
          signal?.removeEventListener("abort", cancel);
          if (err) reject(RpcError.fromGrpc(err));
          else resolve(response!);
        },
      );
      const cancel = () => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
    });

  return async (init: MessageInitShape<DescMessage>, callOptions: CallOptions = {}) => {
    const started = performance.now();
    const request = isMessage(init, method.input) ? init : create(method.input, init);
    const retryable = retryableFor(request as unknown as Record<string, unknown>);
    const overall = Math.min(
      callOptions.deadline ?? Number.POSITIVE_INFINITY,
      requestContext.getStore()?.deadline ?? Number.POSITIVE_INFINITY,
    );
    const timeoutMs = callOptions.timeoutMs ?? options.timeoutMs ?? 2_000;
    const parent = activeTraceContext();
    const span = startRpcSpan("client", serviceName, method.name, parent);
    const metadata = outgoingMetadata(options.metadata, callOptions.metadata);
    injectTraceContext(metadata, contextWithSpan(parent, span));
    const { signal } = callOptions;

    for (let attemptNo = 1; ; attemptNo++) {
      const deadline = Math.min(Date.now() + timeoutMs, overall);
      try {
        signal?.throwIfAborted();
        const once = () => attempt(request, metadata, deadline, signal);
        const response = await (breaker ? breaker.run(once) : once());
        stats.record(status.OK, (performance.now() - started) / 1000);
        endRpcSpan(span, status.OK);
        return response;
      } catch (cause) {
        const err =
          cause instanceof RpcError ? cause : new RpcError(status.CANCELLED, String(cause));
        const wait = backoffMs(attemptNo, options.retry);
        const retry =
          attemptNo < maxAttempts &&
          retryable.has(err.code) &&
          !(err instanceof CircuitOpenError) &&
          !signal?.aborted &&
          Date.now() + wait < overall;
        if (!retry) {
          stats.record(err.code, (performance.now() - started) / 1000);
          endRpcSpan(span, err.code, err.message);
          throw err;
        }
        await sleep(wait, undefined, signal ? { signal } : undefined).catch(() => undefined);
      }
    }
  };
}

function serverStreamingMethod(method: DescMethod, channel: GrpcChannel, options: ClientOptions) {
  const path = methodPath(method);
  const serialize = serializer(method.input);
  const deserialize = deserializer(method.output);
  return async function* (init: MessageInitShape<DescMessage>, callOptions: CallOptions = {}) {
    const request = isMessage(init, method.input) ? init : create(method.input, init);
    const metadata = outgoingMetadata(options.metadata, callOptions.metadata);
    injectTraceContext(metadata, activeTraceContext());
    const deadline = Math.min(
      Date.now() + (callOptions.timeoutMs ?? options.timeoutMs ?? 2_000),
      callOptions.deadline ?? Number.POSITIVE_INFINITY,
      requestContext.getStore()?.deadline ?? Number.POSITIVE_INFINITY,
    );
    const call = channel.makeServerStreamRequest(path, serialize, deserialize, request, metadata, {
      deadline,
    });
    const cancel = () => call.cancel();
    callOptions.signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const message of call) yield message as Message;
    } catch (err) {
      throw RpcError.fromGrpc(err as Parameters<typeof RpcError.fromGrpc>[0]);
    } finally {
      callOptions.signal?.removeEventListener("abort", cancel);
      call.cancel();
    }
  };
}

/**
 * The trace context to continue: the OTel context manager's when an SDK installed one (it has a
 * span), else the one the platform server stored for the request being served.
 */
function activeTraceContext(): Context {
  const active = otelContext.active();
  if (trace.getSpan(active)) return active;
  return requestContext.getStore()?.traceContext ?? active;
}

/** Request metadata: client defaults, then the caller's, then the current correlation id. */
function outgoingMetadata(
  defaults: Record<string, string> | undefined,
  perCall: Record<string, string> | Metadata | undefined,
): Metadata {
  const metadata = perCall instanceof Metadata ? perCall.clone() : new Metadata();
  for (const [key, value] of Object.entries(defaults ?? {})) {
    if (metadata.get(key).length === 0) metadata.set(key, value);
  }
  if (perCall && !(perCall instanceof Metadata)) {
    for (const [key, value] of Object.entries(perCall)) metadata.set(key, value);
  }
  const correlationId = requestContext.getStore()?.correlationId;
  if (correlationId && metadata.get(CORRELATION_ID).length === 0) {
    metadata.set(CORRELATION_ID, correlationId);
  }
  return metadata;
}
