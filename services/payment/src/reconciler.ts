import { resolvePending } from "./charge.ts";
import type { PaymentDeps } from "./deps.ts";
import { listStalePendingPayments } from "./store.ts";

/** A charge left PENDING this long is assumed abandoned by its caller. */
const ABANDONED_AFTER_MS = 60_000;

/**
 * Periodically settles charges left PENDING because the caller gave up (timeout, crash) and
 * never retried: repeating the gateway call with the payment's key learns the real outcome, so
 * a charge that went through still produces payment.successful and the order can move on.
 * Returns a stop function.
 */
export function startReconciler(deps: PaymentDeps, intervalMs: number): () => Promise<void> {
  if (intervalMs <= 0) return async () => {};
  let running: Promise<void> | undefined;
  const tick = async () => {
    const stale = await listStalePendingPayments(
      deps.db,
      new Date(Date.now() - ABANDONED_AFTER_MS),
      20,
    );
    for (const payment of stale) {
      await resolvePending(deps, payment).catch((err: unknown) =>
        deps.logger.warn({ err, paymentId: payment.id }, "could not settle an abandoned charge"),
      );
    }
  };
  const timer = setInterval(() => {
    running ??= tick()
      .catch((err: unknown) => deps.logger.warn({ err }, "payment reconciliation failed"))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
