import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { DescService } from "@bufbuild/protobuf";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Authenticate } from "@shopmesh/platform/grpc-server";
import type { Logger } from "@shopmesh/platform/logger";
import { defaultRegistry, type Registry } from "@shopmesh/platform/metrics";
import { methodPath } from "@shopmesh/platform/service-definition";
import { policiesOf } from "./access-policy.ts";
import { type Caller, identify } from "./caller.ts";
import { CALLER, connectRoutes } from "./connect-routes.ts";
import { createCors } from "./cors.ts";
import { edgeMetrics } from "./edge-metrics.ts";
import { plainHttpError, toHttpError } from "./error-mapping.ts";
import { clientIpOf, requestIdOf, sendError } from "./http-io.ts";
import { readHttpBindings } from "./http-rules.ts";
import { createMetaRoutes } from "./meta-routes.ts";
import { buildOpenApi, type OpenApiDocument } from "./openapi.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import type { Readiness } from "./readiness.ts";
import { createRestHandler } from "./rest-handler.ts";
import { createRouteTable, type RouteTable } from "./route-table.ts";
import type { Upstreams } from "./upstreams.ts";

/** Everything the edge is built from; main.ts assembles it from config. */
export interface EdgeDeps {
  /** The contracts whose annotated RPCs the edge serves. */
  services: readonly DescService[];
  upstreams: Upstreams;
  /** Verifies bearer tokens (the platform JWT authenticator). */
  authenticate: Authenticate;
  rateLimiter: RateLimiter;
  readiness: Readiness;
  corsOrigins: readonly string[];
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  /** Take the client IP from X-Forwarded-For (behind the Istio ingress gateway). */
  trustedProxyHops: number;
  logger: Logger;
  registry?: Registry;
}

/** A built edge: its HTTP server, route table and OpenAPI document. */
export interface Edge {
  readonly server: Server;
  readonly routes: RouteTable;
  readonly openapi: OpenApiDocument;
  /** Binds `host:port` (0 picks a free port) and resolves to the bound port. */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets in-flight requests finish (up to `timeoutMs`), closes the rest. */
  close(timeoutMs?: number): Promise<void>;
}

const REST_PREFIXES = ["/api/", "/.well-known/"];

/**
 * Builds the edge: one HTTP/1.1 server that answers REST/JSON (transcoded from the
 * `google.api.http` annotations), Connect and gRPC-Web (the same public RPCs), the OpenAPI
 * document and docs, health and metrics. Every API request gets a request id, CORS, a body
 * limit, token verification and per-IP/per-user rate limiting before it is routed. The gRPC
 * protocol itself is not served here: it needs HTTP/2, and gRPC clients talk to the services
 * through the mesh.
 */
export function createEdge(deps: EdgeDeps): Edge {
  const registry = deps.registry ?? defaultRegistry;
  const bindings = readHttpBindings(deps.services);
  const routes = createRouteTable(bindings);
  const policies = policiesOf(deps.services);
  const openapi = buildOpenApi(bindings, policies);
  const metrics = edgeMetrics(registry);
  const cors = createCors(deps.corsOrigins);
  const meta = createMetaRoutes({ readiness: deps.readiness, registry, openapi });
  const rest = createRestHandler({
    routes,
    policies,
    upstreams: deps.upstreams,
    maxBodyBytes: deps.maxBodyBytes,
    logger: deps.logger,
  });
  const callers = new WeakMap<object, Caller>();
  const procedures = new Set<string>();
  for (const service of deps.services) {
    for (const method of service.methods) {
      if (policies.has(`${service.typeName}.${method.name}`)) procedures.add(methodPath(method));
    }
  }
  const connect = connectNodeAdapter({
    routes: connectRoutes({
      services: deps.services,
      policies,
      upstreams: deps.upstreams,
      upstreamTimeoutMs: deps.upstreamTimeoutMs,
    }),
    connect: true,
    grpcWeb: true,
    grpc: false,
    readMaxBytes: deps.maxBodyBytes,
    contextValues: (req) => createContextValues().set(CALLER, callers.get(req)),
    fallback: (_req, res) => {
      sendError(res as ServerResponse, plainHttpError(404, "not_found", "no such route or RPC"));
    },
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<string> {
    if (cors.handle(req, res)) return "preflight";
    const path = (req.url ?? "/").split("?")[0]!;
    if (await meta(req, res)) return path.startsWith("/docs/") ? "/docs/*" : path;
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > deps.maxBodyBytes) {
      sendError(
        res,
        plainHttpError(
          413,
          "payload_too_large",
          `request body exceeds ${deps.maxBodyBytes} bytes`,
          {
            connection: "close",
          },
        ),
      );
      return "too_large";
    }
    const authorization = req.headers.authorization;
    const ip = clientIpOf(req, deps.trustedProxyHops);
    const caller: Caller = {
      requestId: res.getHeader("x-request-id") as string,
      ip,
      authorization,
      ...(await identify(deps.authenticate, authorization)),
    };
    const decision = await deps.rateLimiter.take(ip, caller.principal?.subject);
    if (!decision.allowed) {
      metrics.rateLimited();
      sendError(
        res,
        plainHttpError(429, "resource_exhausted", "rate limit exceeded, slow down", {
          "retry-after": String(decision.retryAfterSeconds),
        }),
      );
      return "rate_limited";
    }
    if (REST_PREFIXES.some((p) => path.startsWith(p))) return (await rest(req, res, caller)).route;
    callers.set(req, caller);
    await new Promise<void>((resolve) => {
      res.once("close", resolve);
      connect(req, res);
    });
    return procedures.has(path) ? path : "connect_unknown";
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    res.setHeader("x-request-id", requestIdOf(req));
    const record = (route: string) =>
      metrics.record(route, req.method ?? "", res.statusCode, (performance.now() - started) / 1000);
    handle(req, res).then(record, (err: unknown) => {
      deps.logger.error({ err, url: req.url }, "edge request failed unexpectedly");
      sendError(res, toHttpError(err));
      record("error");
    });
  });
  // Requests Node's parser refuses (unknown methods, malformed request lines, oversized headers)
  // never reach the handler; answer them with the same JSON error body.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    const body = JSON.stringify({
      code: status === 431 ? "headers_too_large" : "bad_request",
      message: status === 431 ? "request headers too large" : "malformed HTTP request",
      details: [],
    });
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
  });
  // Slow-loris protection: a client must send its headers and body in reasonable time.
  server.headersTimeout = 15_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 65_000;

  return {
    server,
    routes,
    openapi,
    listen(port, host = "0.0.0.0") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address();
          resolve(typeof address === "object" && address ? address.port : port);
        });
      });
    },
    close(timeoutMs = 10_000) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          server.closeAllConnections();
        }, timeoutMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
