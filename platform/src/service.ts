import { setTimeout as sleep } from "node:timers/promises";
import type { DescService } from "@bufbuild/protobuf";
import type { ChannelOptions } from "@grpc/grpc-js";
import { closeClients } from "./grpc-client.ts";
import { type Authenticate, createGrpcServer, type GrpcServer } from "./grpc-server.ts";
import type { ServiceImpl } from "./handler-context.ts";
import { createHealth, type Health } from "./health.ts";
import { createLogger, type Logger } from "./logger.ts";
import { type Registry, startMetricsServer } from "./metrics.ts";
import { addReflection } from "./reflection.ts";
import { createShutdown, type Shutdown } from "./shutdown.ts";

/** Options of {@link startService}; only `name`, `port` and `services` are required. */
export interface ServiceOptions<T extends readonly DescService[]> {
  /** Short service name (`catalog`), used in logs. */
  name: string;
  /** gRPC port; 0 picks a free one (tests). */
  port: number;
  /** Interface to bind; all of them by default, as a container needs. */
  host?: string;
  /** `[descriptor, implementation]` pairs, each implementation typed by its descriptor. */
  services: { readonly [I in keyof T]: readonly [T[I], ServiceImpl<T[I]>] };
  logger?: Logger;
  /** Authentication hook run before validation on every call. */
  authenticate?: Authenticate;
  /** Port of the `/metrics`, `/healthz`, `/readyz` HTTP server; none when omitted. */
  metricsPort?: number;
  registry?: Registry;
  /** How long in-flight RPCs may take to finish after SIGTERM. Default 10 s. */
  drainTimeoutMs?: number;
  /**
   * Pause between reporting NOT_SERVING and refusing calls, so load balancers and kube-proxy
   * notice before connections are refused. Default 0; a few seconds in Kubernetes.
   */
  drainDelayMs?: number;
  /** Install SIGTERM/SIGINT handlers that shut down and exit. Default true. */
  handleSignals?: boolean;
  channelOptions?: ChannelOptions;
}

/** A started service: where it listens and the handles main.ts may extend. */
export interface RunningService {
  /** The bound gRPC port. */
  port: number;
  /** The bound metrics port, when a metrics server was asked for. */
  metricsPort: number | undefined;
  logger: Logger;
  health: Health;
  server: GrpcServer;
  /**
   * The shutdown sequence; register consumers, the relay and pools on it, e.g.
   * `service.shutdown.onShutdown("pools", "postgres", () => db.destroy())`.
   */
  shutdown: Shutdown;
  /** Runs the shutdown sequence without exiting (tests); resolves true when clean. */
  stop(reason?: string): Promise<boolean>;
}

/**
 * Starts a service's gRPC server with everything every shopmesh service has: the call pipeline
 * (validation, errors, metrics, tracing), `grpc.health.v1`, reflection, the metrics endpoint and
 * a graceful shutdown on SIGTERM. Keeps each service's main.ts to config, dependencies and
 * this call.
 */
export async function startService<const T extends readonly DescService[]>(
  options: ServiceOptions<T>,
): Promise<RunningService> {
  const logger = options.logger ?? createLogger(options.name);
  const server = createGrpcServer({
    logger,
    ...(options.authenticate ? { authenticate: options.authenticate } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.channelOptions ? { channelOptions: options.channelOptions } : {}),
  });
  for (const [descriptor, impl] of options.services as readonly (readonly [
    DescService,
    ServiceImpl<DescService>,
  ])[]) {
    server.addService(descriptor, impl);
  }
  const health = createHealth(server.services.map((s) => s.typeName));
  health.addToServer(server.grpc);
  addReflection(server.grpc, server.services);

  const port = await server.listen(`${options.host ?? "0.0.0.0"}:${options.port}`);
  health.setServing();
  const metrics =
    options.metricsPort === undefined
      ? undefined
      : await startMetricsServer({
          port: options.metricsPort,
          ...(options.host ? { host: options.host } : {}),
          ...(options.registry ? { registry: options.registry } : {}),
          isReady: health.isServing,
        });

  const shutdown = createShutdown({ logger });
  shutdown.onShutdown("not-serving", "health", async () => {
    health.setNotServing();
    if (options.drainDelayMs) await sleep(options.drainDelayMs);
  });
  shutdown.onShutdown("drain", "grpc-server", async () => {
    const drained = await server.drain(options.drainTimeoutMs ?? 10_000);
    if (!drained) logger.warn("in-flight calls outlived the drain timeout and were cancelled");
  });
  shutdown.onShutdown("pools", "grpc-clients", closeClients);
  if (metrics) shutdown.onShutdown("pools", "metrics-server", metrics.close);
  if (options.handleSignals ?? true) shutdown.exitOnSignals();

  logger.info(
    {
      port,
      pid: process.pid,
      metricsPort: metrics?.port,
      services: server.services.map((s) => s.typeName),
    },
    `${options.name} listening`,
  );
  return {
    port,
    metricsPort: metrics?.port,
    logger,
    health,
    server,
    shutdown,
    stop: (reason = "stop requested") => shutdown.run(reason),
  };
}
