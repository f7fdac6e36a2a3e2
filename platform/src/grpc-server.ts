import {
  create,
  type DescMethod,
  type DescService,
  isMessage,
  type Message,
} from "@bufbuild/protobuf";
import {
  type ChannelOptions,
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { context as otelContext, trace } from "@opentelemetry/api";
import { toStatus } from "./errors.ts";
import {
  CallContext,
  type MethodImpl,
  type Principal,
  type ServerStreamingImpl,
  type ServiceImpl,
  type UnaryImpl,
} from "./handler-context.ts";
import { type Logger, requestContext } from "./logger.ts";
import { type Registry, rpcMetrics } from "./metrics.ts";
import { methodPath, serviceDefinition } from "./service-definition.ts";
import { endRpcSpan, extractTraceContext, startRpcSpan } from "./telemetry.ts";
import { validateMessage } from "./validation.ts";

/**
 * Establishes who is calling from the request metadata, before validation and the handler.
 * Return undefined for anonymous calls; throw an `UnauthenticatedError` to reject the call.
 */
export type Authenticate = (
  metadata: Metadata,
  path: string,
) => Principal | undefined | Promise<Principal | undefined>;

/** Options of {@link createGrpcServer}. */
export interface GrpcServerOptions {
  logger: Logger;
  /** Pluggable authentication; JWT verification plugs in here. */
  authenticate?: Authenticate;
  /** Where per-RPC metrics go; the process-wide registry by default. */
  registry?: Registry;
  /** Raw grpc-js server options (`grpc.max_receive_message_length`, keepalive, ...). */
  channelOptions?: ChannelOptions;
}

/** A grpc-js server that serves protobuf-es services through the platform's call pipeline. */
export interface GrpcServer {
  /** The underlying grpc-js server, for health and reflection to register on. */
  readonly grpc: Server;
  /** The domain services added so far, for health and reflection. */
  readonly services: readonly DescService[];
  /** Serves `service` with `impl`. Unary and server-streaming RPCs are supported. */
  addService<S extends DescService>(service: S, impl: ServiceImpl<S>): void;
  /** Binds `host:port` (port 0 picks a free one) and resolves to the bound port. */
  listen(address: string): Promise<number>;
  /**
   * Stops accepting calls and waits for in-flight ones to finish, cancelling whatever is left
   * after `timeoutMs`. Resolves true when everything finished on its own.
   */
  drain(timeoutMs: number): Promise<boolean>;
}

/**
 * Creates a gRPC server whose every call goes through the same pipeline: trace context and
 * correlation id from metadata, authentication, protovalidate validation (INVALID_ARGUMENT
 * before the handler runs), the handler, error mapping through `toStatus`, metrics and a span.
 */
export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const server = new Server(options.channelOptions);
  const services: DescService[] = [];
  const metrics = rpcMetrics(options.registry).server;

  function wrap(method: DescMethod, impl: (...args: never[]) => unknown) {
    const path = methodPath(method);
    const serviceName = method.parent.typeName;

    // Everything before and after the handler, shared by unary and streaming methods.
    function serve(
      call: ServerUnaryCall<Message, Message> | ServerWritableStream<Message, Message>,
      body: (ctx: CallContext) => Promise<void>,
      fail: (mapped: ReturnType<typeof toStatus>) => void,
    ) {
      const started = performance.now();
      const ctx = new CallContext(path, call);
      const parent = extractTraceContext(call.metadata);
      const span = startRpcSpan("server", serviceName, method.name, parent);
      const traceContext = trace.setSpan(parent, span);
      const store = {
        correlationId: ctx.correlationId,
        requestId: ctx.requestId,
        deadline: ctx.deadline,
        traceContext,
      };
      const finish = (code: number, message?: string) => {
        ctx.dispose();
        metrics.record(serviceName, method.name, code, (performance.now() - started) / 1000);
        endRpcSpan(span, code, message);
      };
      requestContext.run(store, () =>
        otelContext.with(traceContext, () => {
          prepare(ctx, call.request)
            .then(() => body(ctx))
            .then(
              () => finish(status.OK),
              (err: unknown) => {
                const mapped = toStatus(err);
                if (mapped.unexpected) {
                  options.logger.error({ err, path }, "handler failed with an unexpected error");
                }
                finish(mapped.code, mapped.details);
                fail(mapped);
              },
            );
        }),
      );
    }

    async function prepare(ctx: CallContext, request: Message) {
      if (options.authenticate) ctx.principal = await options.authenticate(ctx.metadata, path);
      validateMessage(method.input, request);
    }

    const toResponse = (value: unknown): Message =>
      isMessage(value, method.output) ? value : create(method.output, value as never);

    if (method.methodKind === "unary") {
      const handler = impl as unknown as UnaryImpl<typeof method.input, typeof method.output>;
      return (call: ServerUnaryCall<Message, Message>, callback: sendUnaryData<Message>) => {
        serve(
          call,
          async (ctx) => {
            callback(null, toResponse(await handler(call.request, ctx)));
          },
          (mapped) => callback(mapped),
        );
      };
    }
    if (method.methodKind === "server_streaming") {
      const handler = impl as unknown as ServerStreamingImpl<
        typeof method.input,
        typeof method.output
      >;
      return (call: ServerWritableStream<Message, Message>) => {
        serve(
          call,
          async (ctx) => {
            for await (const value of handler(call.request, ctx)) {
              if (call.cancelled) return;
              if (!call.write(toResponse(value))) {
                await new Promise((resolve) => call.once("drain", resolve));
              }
            }
            call.end();
          },
          (mapped) => call.emit("error", mapped),
        );
      };
    }
    throw new Error(`${path}: ${method.methodKind} RPCs are not supported by the platform server`);
  }

  return {
    grpc: server,
    services,
    addService(service, impl) {
      const handlers: UntypedServiceImplementation = {};
      for (const method of service.methods) {
        const methodImpl = (impl as Record<string, MethodImpl<DescMethod>>)[method.localName];
        if (typeof methodImpl !== "function") {
          throw new Error(`${service.typeName}: no handler for ${method.name}`);
        }
        handlers[method.localName] = wrap(method, methodImpl) as never;
      }
      server.addService(serviceDefinition(service), handlers);
      services.push(service);
    },
    listen(address) {
      return new Promise((resolve, reject) => {
        server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) =>
          err ? reject(err) : resolve(port),
        );
      });
    },
    drain(timeoutMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve(false);
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
  };
}
