import { Client, credentials, Metadata } from "@grpc/grpc-js";
import type { JSONWebKeySet } from "@shopmesh/platform/auth";
import type { UpstreamSpec } from "./upstreams.ts";

/** The result of one readiness probe: overall, and per check for the operator. */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, "ok" | string>;
}

/** Answers `/readyz`. */
export interface Readiness {
  check(): Promise<ReadinessReport>;
  close(): void;
}

/** Options of {@link createReadiness}. */
export interface ReadinessOptions {
  /** The upstreams whose health gates readiness. */
  required: readonly UpstreamSpec[];
  /** Whether the JWKS has been fetched at least once. */
  jwksLoaded: () => boolean;
  /** Fetches the JWKS (tried when not loaded yet, so readiness converges on its own). */
  loadJwks: () => Promise<unknown>;
  /** Per-probe deadline, ms. Default 1000. */
  timeoutMs?: number;
  /** How long a report is reused, ms, so probes do not hammer the services. Default 2000. */
  cacheMs?: number;
}

const HEALTH_CHECK = "/grpc.health.v1.Health/Check";

/**
 * Readiness of the edge: the JWKS is loaded (tokens can be verified) and every required
 * service answers `grpc.health.v1.Health/Check` with SERVING. Optional services (search,
 * recommendation, ...) do not gate it; their routes answer 503 while they are away.
 */
export function createReadiness(options: ReadinessOptions): Readiness {
  const timeoutMs = options.timeoutMs ?? 1_000;
  const cacheMs = options.cacheMs ?? 2_000;
  const clients = new Map(
    options.required.map((u) => [u.name, new Client(u.address, credentials.createInsecure())]),
  );
  let cached: { at: number; report: Promise<ReadinessReport> } | undefined;

  function probe(client: Client): Promise<"ok" | string> {
    return new Promise((resolve) => {
      client.makeUnaryRequest(
        HEALTH_CHECK,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, response) => {
          if (err) resolve(err.details || err.message);
          // HealthCheckResponse{status = 1 (SERVING)} is the two bytes 0x08 0x01.
          else resolve(response?.[0] === 0x08 && response[1] === 0x01 ? "ok" : "not serving");
        },
      );
    });
  }

  async function run(): Promise<ReadinessReport> {
    const checks: Record<string, string> = {};
    if (!options.jwksLoaded()) await options.loadJwks().catch(() => undefined);
    checks.jwks = options.jwksLoaded() ? "ok" : "not fetched yet";
    await Promise.all(
      [...clients].map(async ([name, client]) => {
        checks[name] = await probe(client);
      }),
    );
    return { ready: Object.values(checks).every((c) => c === "ok"), checks };
  }

  return {
    check() {
      if (!cached || Date.now() - cached.at > cacheMs) cached = { at: Date.now(), report: run() };
      return cached.report;
    },
    close() {
      for (const client of clients.values()) client.close();
    },
  };
}

/** Wraps a JWKS source so readiness can tell whether a set was ever fetched. */
export function trackJwks(source: () => Promise<JSONWebKeySet>): {
  jwks: () => Promise<JSONWebKeySet>;
  loaded: () => boolean;
} {
  let loaded = false;
  return {
    jwks: async () => {
      const set = await source();
      loaded = true;
      return set;
    },
    loaded: () => loaded,
  };
}
