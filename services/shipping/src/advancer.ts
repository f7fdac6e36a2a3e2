import type { ShippingDeps } from "./deps.ts";
import { advanceDueShipments } from "./shipments.ts";

/**
 * Starts the simulated carrier: a background loop that moves due shipments one status along
 * (LABEL_CREATED -> PICKED_UP -> IN_TRANSIT -> OUT_FOR_DELIVERY -> DELIVERED), one step per
 * `advanceIntervalMs`. Off when the interval is 0. Returns a stop function that waits for the
 * round in progress.
 */
export function startCarrierSimulation(deps: ShippingDeps): () => Promise<void> {
  if (deps.advanceIntervalMs <= 0) return async () => {};
  const pollMs = Math.max(20, Math.min(1_000, Math.floor(deps.advanceIntervalMs / 2)));
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;

  const tick = () => {
    round = (async () => {
      try {
        // Keep going while full batches come back, so a backlog drains without waiting.
        while (!stopped && (await advanceDueShipments(deps)) >= 50) {}
      } catch (err) {
        deps.logger.warn({ err }, "advancing shipments failed; retrying next round");
      }
    })().finally(() => {
      round = undefined;
      if (!stopped) timer = setTimeout(tick, pollMs);
    });
  };
  timer = setTimeout(tick, pollMs);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await round;
  };
}
