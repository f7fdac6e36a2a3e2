import type { Logger } from "@shopmesh/platform/logger";

/** A running sweeper. */
export interface ExpirySweeper {
  /** Waits for the sweep in progress, then stops. */
  stop(): Promise<void>;
}

/**
 * Runs `expireDue` every `intervalMs` until stopped: RESERVED reservations past expires_at go
 * back to available (inventory.released, reason EXPIRED). A failed sweep is logged and retried
 * on the next tick; sweeps never overlap. Several replicas may sweep at once, since each
 * reservation is taken with SKIP LOCKED.
 */
export function startExpirySweeper(options: {
  expireDue: () => Promise<number>;
  intervalMs: number;
  logger: Logger;
}): ExpirySweeper {
  const { logger } = options;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const tick = () => {
    running = (async () => {
      try {
        // Keep sweeping while full batches come back, so a backlog drains promptly.
        for (
          let n = await options.expireDue();
          n >= 100 && !stopped;
          n = await options.expireDue()
        ) {}
      } catch (err) {
        logger.warn({ err }, "reservation expiry sweep failed; retrying on the next tick");
      }
      if (!stopped) timer = setTimeout(tick, options.intervalMs);
    })();
  };
  timer = setTimeout(tick, options.intervalMs);

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
