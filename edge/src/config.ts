import { type EnvVar, int, loadConfig, port, str, url } from "@shopmesh/platform/config";
import { UPSTREAM_SERVICES, type UpstreamSpec } from "./upstreams.ts";

const spec = {
  port: port("EDGE_PORT", { default: 8080 }),
  host: str("EDGE_HOST", { default: "0.0.0.0" }),
  redisUrl: url("REDIS_URL", {
    default: "redis://127.0.0.1:6379",
    protocols: ["redis:", "rediss:"],
  }),
  rateKeyPrefix: str("EDGE_RATE_KEY_PREFIX", { default: "edge:rl:" }),
  ipPerMinute: int("EDGE_RATE_IP_PER_MINUTE", { default: 1200, min: 1 }),
  ipBurst: int("EDGE_RATE_IP_BURST", { default: 200, min: 1 }),
  userPerMinute: int("EDGE_RATE_USER_PER_MINUTE", { default: 600, min: 1 }),
  userBurst: int("EDGE_RATE_USER_BURST", { default: 100, min: 1 }),
  maxBodyBytes: int("EDGE_MAX_BODY_BYTES", { default: 1_048_576, min: 1024 }),
  corsOrigins: str("EDGE_CORS_ORIGINS", {
    default: "http://localhost:3000,http://localhost:4200,http://localhost:5173",
  }),
  upstreamTimeoutMs: int("EDGE_UPSTREAM_TIMEOUT_MS", { default: 5_000, min: 10 }),
  /** Proxies in front of the edge that append to X-Forwarded-For (1 behind an ingress gateway). */
  trustedProxyHops: int("EDGE_TRUSTED_PROXY_HOPS", { default: 0, min: 0, max: 10 }),
  requiredServices: str("EDGE_REQUIRED_SERVICES", {
    default: "user,catalog,inventory,cart,order,payment,shipping,notification",
  }),
};

const addresses = Object.fromEntries(
  UPSTREAM_SERVICES.map((u) => [u.name, str(u.env, { default: `127.0.0.1:${u.port}` })]),
) as Record<string, EnvVar<string>>;

/** The edge's configuration, read once from the environment. */
export interface EdgeConfig {
  port: number;
  host: string;
  redisUrl: string;
  rateKeyPrefix: string;
  ipPerMinute: number;
  ipBurst: number;
  userPerMinute: number;
  userBurst: number;
  maxBodyBytes: number;
  corsOrigins: string[];
  upstreamTimeoutMs: number;
  trustedProxyHops: number;
  /** Services `/readyz` waits for; the others may be absent (their routes answer 503). */
  requiredServices: string[];
  upstreams: UpstreamSpec[];
}

/**
 * The one place the edge reads process.env: `EDGE_*` settings, `REDIS_URL` and every
 * `<SERVICE>_ADDR` of the runtime contract. Throws a ConfigError listing every problem.
 */
export function loadEdgeConfig(env: Record<string, string | undefined> = process.env): EdgeConfig {
  const c = loadConfig(spec, env);
  const a = loadConfig(addresses, env);
  const list = (s: string) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter((x) => x !== "");
  return {
    ...c,
    corsOrigins: list(c.corsOrigins),
    requiredServices: list(c.requiredServices),
    upstreams: UPSTREAM_SERVICES.map((u) => ({
      name: u.name,
      service: u.service,
      address: a[u.name]!,
    })),
  };
}
