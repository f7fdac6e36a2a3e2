/**
 * The edge process: config -> Redis, upstream clients, JWT verification -> HTTP server on
 * EDGE_PORT; SIGTERM/SIGINT drain it and close every connection.
 */

import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { createJwtAuthenticator, jwksFromUserService } from "@shopmesh/platform/auth";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createLogger } from "@shopmesh/platform/logger";
import { createShutdown } from "@shopmesh/platform/shutdown";
import { Redis } from "ioredis";
import { loadEdgeConfig } from "./config.ts";
import { createEdge } from "./edge-server.ts";
import { createRateLimiter } from "./rate-limiter.ts";
import { createReadiness, trackJwks } from "./readiness.ts";
import { createUpstreams } from "./upstreams.ts";

const config = loadEdgeConfig();
const logger = createLogger("edge");

const redis = new Redis(config.redisUrl, {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  commandTimeout: 200,
  lazyConnect: false,
});
redis.on("error", (err) => logger.debug({ err }, "redis connection error"));

const upstreams = createUpstreams(config.upstreams, { timeoutMs: config.upstreamTimeoutMs });
const userAddress = config.upstreams.find((u) => u.name === "user")!.address;
const jwks = trackJwks(jwksFromUserService(createClient(UserService, userAddress)));
const edge = createEdge({
  services: config.upstreams.map((u) => u.service),
  upstreams,
  authenticate: createJwtAuthenticator({ jwks: jwks.jwks }),
  rateLimiter: createRateLimiter({
    redis,
    keyPrefix: config.rateKeyPrefix,
    perIp: { capacity: config.ipBurst, perMinute: config.ipPerMinute },
    perUser: { capacity: config.userBurst, perMinute: config.userPerMinute },
    logger,
  }),
  readiness: createReadiness({
    required: config.upstreams.filter((u) => config.requiredServices.includes(u.name)),
    jwksLoaded: jwks.loaded,
    loadJwks: jwks.jwks,
  }),
  corsOrigins: config.corsOrigins,
  maxBodyBytes: config.maxBodyBytes,
  upstreamTimeoutMs: config.upstreamTimeoutMs,
  trustedProxyHops: config.trustedProxyHops,
  logger,
});

const port = await edge.listen(config.port, config.host);
logger.info(
  { port, routes: edge.routes.routes.length },
  `edge listening on http://127.0.0.1:${port} (REST /api/v1, Connect, gRPC-Web, /docs)`,
);

const shutdown = createShutdown({ logger });
shutdown.onShutdown("drain", "http-server", () => edge.close(10_000));
shutdown.onShutdown("pools", "grpc-clients", closeClients);
shutdown.onShutdown("pools", "redis", async () => {
  redis.disconnect();
});
shutdown.exitOnSignals();
