import { status } from "@grpc/grpc-js";
import CircuitBreaker from "opossum";
import { RpcError } from "./errors.ts";
import { type Registry, rpcMetrics } from "./metrics.ts";

/** When a breaker opens and how long it stays open. */
export interface BreakerOptions {
  /** Failure percentage in the rolling window above which the breaker opens. Default 50. */
  errorThresholdPercentage?: number;
  /** Calls in the rolling window before the percentage counts at all. Default 5. */
  volumeThreshold?: number;
  /** How long an open breaker fails fast before letting one trial call through. Default 5 s. */
  resetTimeoutMs?: number;
  /** Length of the rolling statistics window. Default 10 s. */
  rollingWindowMs?: number;
}

/**
 * Status codes that say the target is unhealthy, as opposed to business answers. Only these
 * count towards opening a breaker: a hundred NOT_FOUNDs mean the service works.
 */
export const BREAKER_FAILURE_CODES: ReadonlySet<status> = new Set([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.INTERNAL,
  status.UNKNOWN,
  status.DATA_LOSS,
]);

/** A breaker guarding one (target, method): it runs attempts and fails fast while open. */
export interface Breaker {
  /** Runs `attempt` through the breaker; rejects with UNAVAILABLE at once while open. */
  run<T>(attempt: () => Promise<T>): Promise<T>;
  /** "closed", "half-open" or "open". */
  state(): "closed" | "half-open" | "open";
  /** Stops the breaker's statistics timers. */
  shutdown(): void;
}

/**
 * UNAVAILABLE raised by an open breaker without calling the target. A distinct class because
 * retrying it is pointless until the breaker's reset timeout passes.
 */
export class CircuitOpenError extends RpcError {
  constructor(target: string, method: string) {
    super(status.UNAVAILABLE, `circuit open for ${target}/${method}`);
  }
}

const STATE_VALUE = { closed: 0, "half-open": 1, open: 2 } as const;

/**
 * Creates the opossum breaker of one (target, method). Opossum's own timeout is disabled because
 * every call already carries a gRPC deadline; business errors pass its `errorFilter` so they
 * count as successes. The state is exported as `grpc_client_circuit_state{target,method}`.
 */
export function createBreaker(
  target: string,
  method: string,
  options: BreakerOptions = {},
  registry?: Registry,
): Breaker {
  const breaker = new CircuitBreaker((attempt: () => Promise<unknown>) => attempt(), {
    name: `${target}/${method}`,
    timeout: false,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    volumeThreshold: options.volumeThreshold ?? 5,
    resetTimeout: options.resetTimeoutMs ?? 5_000,
    rollingCountTimeout: options.rollingWindowMs ?? 10_000,
    errorFilter: (err: unknown) =>
      !(err instanceof RpcError && BREAKER_FAILURE_CODES.has(err.code)),
  });
  const gauge = rpcMetrics(registry).breakerState.labels(target, method);
  const state = () => (breaker.opened ? "open" : breaker.halfOpen ? "half-open" : "closed");
  const report = () => gauge.set(STATE_VALUE[state()]);
  breaker.on("open", report);
  breaker.on("halfOpen", report);
  breaker.on("close", report);
  report();

  return {
    async run<T>(attempt: () => Promise<T>): Promise<T> {
      try {
        return (await breaker.fire(attempt)) as T;
      } catch (err) {
        if ((err as { code?: unknown }).code === "EOPENBREAKER") {
          throw new CircuitOpenError(target, method);
        }
        throw err;
      }
    },
    state,
    shutdown: () => breaker.shutdown(),
  };
}
