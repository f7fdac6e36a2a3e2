import type { Logger } from "./logger.ts";

/**
 * The phases of a graceful shutdown, in the order they run. Each step needs the ones before it
 * done: health must say NOT_SERVING before the server stops accepting; in-flight RPCs may still
 * write to the outbox, so the relay flushes after them; pools close last because every earlier
 * step may still query.
 */
export const SHUTDOWN_PHASES = [
  /** Health flips to NOT_SERVING; balancers and probes stop routing new calls here. */
  "not-serving",
  /** The gRPC server stops accepting and drains in-flight RPCs. */
  "drain",
  /** Kafka consumers stop and commit what they handled. */
  "consumers",
  /** The outbox relay publishes what is left. */
  "relay",
  /** Database, Redis and Kafka producer connections close. */
  "pools",
] as const;

/** One of {@link SHUTDOWN_PHASES}. */
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

/** A cleanup step; may be async. */
export type ShutdownHook = () => unknown;

/** Ordered shutdown hooks of one process; see {@link createShutdown}. */
export interface Shutdown {
  /** Registers `hook` to run in `phase`; hooks of one phase run concurrently. */
  onShutdown(phase: ShutdownPhase, name: string, hook: ShutdownHook): void;
  /**
   * Runs every phase once, in order, and resolves true when no hook failed or timed out.
   * Calling it again returns the same promise, so a second SIGTERM does not start over.
   */
  run(reason: string): Promise<boolean>;
  /**
   * Makes SIGTERM and SIGINT run the hooks and then exit (0 when clean, 1 otherwise); a second
   * signal exits at once with 1.
   */
  exitOnSignals(signals?: readonly NodeJS.Signals[]): void;
}

/** Options of {@link createShutdown}. */
export interface ShutdownOptions {
  logger: Logger;
  /** Upper bound for the whole shutdown; past it the process exits 1 regardless. */
  timeoutMs?: number;
}

/**
 * Creates the shutdown sequence every service's main.ts uses. Kubernetes sends SIGTERM and
 * kills the pod after its grace period (30 s by default), so the sequence is bounded by
 * `timeoutMs` (25 s by default) to finish before the kill and exit on its own terms.
 */
export function createShutdown(options: ShutdownOptions): Shutdown {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? 25_000;
  const hooks = new Map<ShutdownPhase, { name: string; hook: ShutdownHook }[]>(
    SHUTDOWN_PHASES.map((phase) => [phase, []]),
  );
  let running: Promise<boolean> | undefined;

  async function runPhases(reason: string): Promise<boolean> {
    logger.info({ reason }, "shutting down");
    let clean = true;
    for (const phase of SHUTDOWN_PHASES) {
      const results = await Promise.allSettled(
        hooks.get(phase)!.map(async ({ name, hook }) => {
          const started = Date.now();
          await hook();
          logger.info({ phase, hook: name, ms: Date.now() - started }, "shutdown step done");
        }),
      );
      for (const result of results) {
        if (result.status === "rejected") {
          clean = false;
          logger.error({ phase, err: result.reason }, "shutdown step failed");
        }
      }
    }
    return clean;
  }

  const shutdown: Shutdown = {
    onShutdown(phase, name, hook) {
      hooks.get(phase)!.push({ name, hook });
    },
    run(reason) {
      if (!running) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => {
            logger.error({ timeoutMs }, "shutdown timed out");
            resolve(false);
          }, timeoutMs);
          timer.unref();
        });
        running = Promise.race([runPhases(reason), timeout]).finally(() => clearTimeout(timer));
      }
      return running;
    },
    exitOnSignals(signals = ["SIGTERM", "SIGINT"]) {
      let received = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (received) {
          // A second Ctrl-C means "now": skip whatever is still draining.
          logger.warn({ signal }, "second signal, exiting without finishing the shutdown");
          process.exit(1);
        }
        received = true;
        shutdown.run(signal).then((clean) => {
          logger.info({ clean }, "shutdown complete");
          logger.flush?.();
          process.exit(clean ? 0 : 1);
        });
      };
      for (const signal of signals) process.on(signal, onSignal);
    },
  };
  return shutdown;
}
