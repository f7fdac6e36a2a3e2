import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  type ChannelOptions,
  Server,
  ServerCredentials,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { MethodImpl, ServiceImpl } from "./handler-context.ts";
import type { Logger } from "./logger.ts";
import { type Registry, rpcMetrics } from "./metrics.ts";
import {
  type Authenticate,
  type MethodPipeline,
  methodPipeline,
  ServedCall,
} from "./served-call.ts";
import { serviceDefinition } from "./service-definition.ts";

export type { Authenticate } from "./served-call.ts";

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
// Channelz (grpc-js' in-process call tracing, on by default) counts and timestamps every call on
// the server, channel, subchannel and socket; nothing here reads it, and it costs every call.
const WITHOUT_CHANNELZ = { "grpc.enable_channelz": 0 };

export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const server = new Server({ ...WITHOUT_CHANNELZ, ...options.channelOptions });
  const services: DescService[] = [];
  const metrics = rpcMetrics(options.registry).server;

  function grpcHandler(method: DescMethod, handler: MethodPipeline["handler"]) {
    const pipeline = methodPipeline(
      method,
      handler,
      metrics.method(method.parent.typeName, method.name),
      options.logger,
      options.authenticate,
    );
    if (method.methodKind === "unary") return ServedCall.unary(pipeline);
    if (method.methodKind === "server_streaming") return ServedCall.serverStreaming(pipeline);
    throw new Error(
      `${pipeline.path}: ${method.methodKind} RPCs are not supported by the platform`,
    );
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
        handlers[method.localName] = grpcHandler(
          method,
          methodImpl as MethodPipeline["handler"],
        ) as never;
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
