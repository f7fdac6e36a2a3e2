import { createRequire } from "node:module";

/**
 * kafkajs 2.2.4's request queue (one per broker connection) keeps a timer loop running while
 * it has nothing to do: after each check of its pending requests it schedules the next, and
 * with none pending and no throttling it does so with a negative delay, i.e. every
 * millisecond, for as long as the connection is open (tulios/kafkajs#1556 and #1704; the fix,
 * #1667, was never released). Measured here: an idle order or inventory process spent 6-8% of a
 * core on it, and under load it runs all the same, beside the real work.
 *
 * The replacement schedules a check only while requests wait in the queue: a request that is
 * queued schedules one (kafkajs' `push`), and every answer or timeout checks the queue itself,
 * so an empty queue needs no timer. Throttled requests are checked when the throttle ends, the
 * rest after kafkajs' own 10 ms.
 */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}

/** kafkajs' CHECK_PENDING_REQUESTS_INTERVAL. */
const CHECK_PENDING_MS = 10;

const RequestQueue = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js");
const proto = RequestQueue.prototype as RequestQueueInternals & {
  scheduleCheckPendingRequests(): void;
};
if (typeof proto.scheduleCheckPendingRequests !== "function") {
  throw new Error("kafkajs' RequestQueue has no scheduleCheckPendingRequests: recheck the patch");
}

proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(
  this: RequestQueueInternals,
) {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const throttledFor = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    throttledFor > 0 ? throttledFor : CHECK_PENDING_MS,
  );
};

/** The patched class, for tests. */
export const requestQueuePrototype: RequestQueueInternals = proto;
