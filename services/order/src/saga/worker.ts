import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@shopmesh/platform/logger";
import { requestContext } from "@shopmesh/platform/logger";
import { nextStepKind, type SagaStepKind } from "../domain/next-step.ts";
import type { Order } from "../domain/order.ts";
import type { OrderStore, StoredOrder } from "../store.ts";
import { type Change, runStep, type SagaClients } from "./steps.ts";

/** Settings of {@link createSagaWorker}. */
export interface SagaWorkerOptions {
  store: OrderStore;
  clients: SagaClients;
  logger: Logger;
  /** Orders advanced at once. */
  concurrency: number;
  /** How often due orders are looked for. */
  sweepIntervalMs: number;
  /** How long a claimed order belongs to this worker before another may resume it. */
  leaseMs: number;
  reservationTtlSeconds: number;
  paymentStepTimeoutMs: number;
  /** Longest wait between retries of a failing step. Default 30 s. */
  maxBackoffMs?: number;
}

/** A saga slot taken for an order about to be placed; see {@link SagaWorker.admit}. */
export interface Admission {
  /** Insert the order leased to this worker until then, so no one else claims it. */
  leaseUntil: Date;
  /** Starts the inserted (leased) order's saga in the slot. */
  run(order: StoredOrder): void;
  /** Gives the slot back (the insert failed). */
  cancel(): void;
}

/** The saga worker of one process. */
export interface SagaWorker {
  /** Advances an order now (after PlaceOrder, CancelOrder or an event), if nobody else holds it. */
  kick(orderId: string): void;
  /** The run this worker has in hand for the order (settles when it ends), if any. */
  running(orderId: string): Promise<void> | undefined;
  /**
   * Takes a slot for an order about to be inserted, which then needs no claim: it is inserted
   * already leased to this worker and handed over as written. Undefined when every slot is
   * busy: insert it due, and the sweeper takes it when a slot frees up. A crash between the
   * insert and the run loses nothing: the lease lapses and a sweeper resumes the order.
   */
  admit(): Admission | undefined;
  /** Stops sweeping and waits (bounded) for the orders in hand. */
  stop(): Promise<void>;
}

// One order is advanced through at most this many steps per claim, then handed back to the
// sweeper, so a misbehaving order cannot monopolise a slot.
const MAX_STEPS_PER_CLAIM = 12;

/** Both changes in order, as one: their events in order too. */
function compose(first: Change, second: Change): Change {
  return (o) => {
    const a = first(o);
    const b = second(a.order);
    return { order: b.order, events: [...a.events, ...b.events] };
  };
}

/** Steps with no call of their own: never run ahead of a save (see `withNextSteps`). */
const LOCAL_STEPS: ReadonlySet<SagaStepKind> = new Set(["wait", "time_out"]);

/**
 * Starts the checkout saga's orchestrator: a durable worker driven only by order rows. Each
 * order carries `next_attempt_at`; the sweeper claims due orders with a lease (SKIP LOCKED, so
 * replicas share the work), decides the next step from the persisted state, runs the step's
 * idempotent call and applies the answer under the row lock together with its outbox events.
 * A crash loses nothing: the lease lapses and any worker resumes the order from its row.
 */
export function createSagaWorker(options: SagaWorkerOptions): SagaWorker {
  const { store, clients, logger } = options;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const inFlight = new Map<string, Promise<void>>();
  // Slots admitted to orders being inserted, not yet running.
  let admitted = 0;
  const busy = () => inFlight.size + admitted;
  let stopping = false;
  let wake: (() => void) | undefined;
  // Set when due work may be waiting for a free slot (a kick refused at capacity, or a sweep
  // that filled every slot): a slot that frees up then wakes the sweeper at once. Otherwise a
  // finished order costs no claim query.
  let backlog = false;

  const paymentDeadline = () => new Date(Date.now() + options.paymentStepTimeoutMs);
  const leaseEnd = () => new Date(Date.now() + options.leaseMs);
  const backoff = (attempts: number) => {
    const base = Math.min(maxBackoffMs, 200 * 2 ** Math.min(attempts, 16));
    return base / 2 + Math.random() * (base / 2);
  };

  // Keep the lease while this worker continues; null once only an event can move the order.
  const holdOrRelease = (o: Order) => (nextStepKind(o) === "wait" ? null : leaseEnd());

  /** Saves nothing but the schedule: due now if saga work is left, else only events move it. */
  const requeue = (known: StoredOrder) =>
    store.apply(known.order.id, (o) => ({ order: o, events: [] }), {
      schedule: (o) => (nextStepKind(o) === "wait" ? null : new Date()),
      withHistory: false,
      known,
    });

  const stepInput = (stored: StoredOrder, order: Order, attempts: number) => ({
    order,
    paymentToken: stored.paymentToken,
    attempts,
    reservationTtlSeconds: options.reservationTtlSeconds,
    paymentDeadline,
  });

  /**
   * A step's change, followed by the answers of the steps it makes due: those calls run now
   * and all the answers are saved in one statement, so a checkout's reservation, charge, stock
   * commit and shipment are one save. Nothing needs saving before any of those calls: the order
   * is placed already recording that a charge and a shipment may be asked for (see
   * placeOrder). Every call is idempotent, so a crash before the save only repeats them. A call
   * that fails ends the run: the answers before it are saved, and it is tried again as usual. A
   * cancelled order runs one step ahead at most.
   */
  async function withNextSteps(stored: StoredOrder, change: Change): Promise<Change> {
    let changes = change;
    try {
      let after = change(stored.order).order;
      for (let i = 0; i < MAX_STEPS_PER_CLAIM; i++) {
        const next = nextStepKind(after);
        if (LOCAL_STEPS.has(next)) break;
        // Past the first, only forward steps: a compensation (a release) makes its participant
        // publish events the order consumer reads against the saved state, so a cancel is
        // saved before more calls hold it up (or the release would look like a lost one).
        if (i > 0 && after.status === "CANCELLED") break;
        const answer = await runStep(next, stepInput(stored, after, 0), clients);
        changes = compose(changes, answer);
        after = answer(after).order;
      }
    } catch (err) {
      logger.debug({ err, orderId: stored.order.id }, "saga step run ahead failed");
    }
    return changes;
  }

  /**
   * Advances one claimed order step by step, starting from the row as claimed (or inserted);
   * after that each step continues from the state its own save wrote, no read in between.
   */
  async function advance(claimed: StoredOrder): Promise<void> {
    const orderId = claimed.order.id;
    let stored = claimed;
    // Whether the row still carries this claim's lease (a step's apply releases it on wait).
    let leased = true;
    for (let i = 0; i < MAX_STEPS_PER_CLAIM && !stopping; i++) {
      const kind = nextStepKind(stored.order);
      if (kind === "wait") {
        if (leased) await requeue(stored);
        return;
      }
      let applied: StoredOrder | undefined;
      try {
        const change = await runStep(
          kind,
          stepInput(stored, stored.order, stored.attempts),
          clients,
        );
        const changes = await withNextSteps(stored, change);
        applied = await store.applyStored(orderId, changes, {
          schedule: holdOrRelease,
          withHistory: false,
          known: stored,
        });
      } catch (err) {
        const attempts = stored.attempts + 1;
        const retryAt = new Date(Date.now() + backoff(attempts));
        // A step deadline may fall before the retry: wake up for it then.
        const deadline = stored.order.saga.stepDeadlineAt;
        const at = deadline && deadline > new Date() && deadline < retryAt ? deadline : retryAt;
        logger.warn({ err, orderId, step: kind, attempts }, "saga step failed; retrying later");
        await store.retryLater(orderId, at, attempts, `${kind}: ${(err as Error).message}`);
        return;
      }
      if (!applied) return;
      stored = applied;
      leased = nextStepKind(stored.order) !== "wait";
      if (!leased) return;
    }
    // Steps left but this claim's budget is spent: make it due for the next sweep.
    await requeue(stored);
  }

  function start(claimed: StoredOrder) {
    const orderId = claimed.order.id;
    if (inFlight.has(orderId)) return;
    // Outside the triggering request's context: its deadline must not bound the saga's calls.
    const run = requestContext
      .run({ correlationId: orderId }, () => advance(claimed))
      .catch((err) =>
        logger.error(
          { err, orderId },
          "saga worker failed on an order; the sweeper will resume it",
        ),
      )
      .finally(() => {
        inFlight.delete(orderId);
        if (backlog) {
          backlog = false;
          wake?.();
        }
      });
    inFlight.set(orderId, run);
  }

  async function sweep() {
    while (!stopping) {
      try {
        const free = options.concurrency - busy();
        if (free > 0) {
          const claimed = await store.claimDue(free, options.leaseMs);
          if (claimed.length === free) backlog = true;
          for (const c of claimed) start(c);
        }
      } catch (err) {
        logger.warn({ err }, "saga sweep failed; trying again");
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.sweepIntervalMs);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  }

  const sweeping = sweep();
  logger.info(
    { concurrency: options.concurrency, leaseMs: options.leaseMs },
    "saga worker started",
  );

  return {
    kick(orderId) {
      if (stopping || inFlight.has(orderId)) return;
      if (busy() >= options.concurrency) {
        backlog = true;
        return;
      }
      store
        .claim(orderId, options.leaseMs)
        .then((claimed) => {
          if (claimed) start(claimed);
        })
        .catch((err) => logger.warn({ err, orderId }, "could not claim order; the sweeper will"));
    },
    running: (orderId) => inFlight.get(orderId),
    admit() {
      if (stopping || busy() >= options.concurrency) {
        backlog = true;
        return undefined;
      }
      admitted++;
      let open = true;
      /** Gives the slot back once; false if it was given back already. */
      const close = () => {
        if (!open) return false;
        open = false;
        admitted--;
        return true;
      };
      return {
        leaseUntil: leaseEnd(),
        run(order) {
          if (close() && !stopping) start(order);
        },
        cancel() {
          if (close() && backlog) {
            backlog = false;
            wake?.();
          }
        },
      };
    },
    async stop() {
      stopping = true;
      wake?.();
      await Promise.race([Promise.allSettled([sweeping, ...inFlight.values()]), sleep(10_000)]);
      logger.info("saga worker stopped");
    },
  };
}
