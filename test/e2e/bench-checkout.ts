/**
 * Checkout benchmark: 1, 16 and 64 concurrent shoppers place orders against real order,
 * inventory and payment processes (catalog and shipping are in-process stand-ins, so the
 * numbers are about the saga, not about pricing). Reports checkouts per second (orders
 * CONFIRMED per second of wall time) and p50/p99 of PlaceOrder -> CONFIRMED: from the moment
 * the shopper calls PlaceOrder to the moment the order is seen CONFIRMED (what a client waits;
 * it includes up to one poll interval, POLL_MS).
 * Under each level's row: p50/p99 of each step (PENDING -> STOCK_RESERVED, -> PAID,
 * -> CONFIRMED, -> SHIPPED), from the orders' own status history, whose entries carry the time
 * each step answered, and (on Linux) the CPU time each process spent per order during the
 * level: the services, this process, Postgres and Kafka.
 *
 * The load is a closed loop, as real shoppers behave: each shopper places an order, waits until
 * that order is CONFIRMED (or CANCELLED), then places the next, for BENCH_SECONDS per level
 * (default 10; orders placed before the deadline are waited for and counted), after a warm-up
 * (see WARMUP_MS).
 *
 * Run: npm run bench:checkout (brings the infrastructure up itself). BENCH_LEVELS=64 runs
 * one level only.
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AdjustmentReason,
  InventoryService,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { OrderService } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { PaymentService } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createTestTokens, serveTestJwks } from "@shopmesh/platform/testing/test-tokens";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import pg from "pg";
import { startFakePeers } from "./support/fake-peers.ts";
import {
  dropTestDatabase,
  type ServiceProcess,
  startServiceProcess,
} from "./support/service-process.ts";

const LEVELS = (process.env.BENCH_LEVELS ?? "1,16,64").split(",").map(Number);
const LEVEL_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
/**
 * Orders placed before the levels, at the highest level's load, and not counted. A service that
 * has just started is still compiling: V8 optimises its hot paths over its first few thousand
 * orders (measured: at 64 shoppers a fresh run's first 10 s cost each process a fifth to a third
 * more CPU per order than the next 10 s, TurboFan busy on a quarter of inventory's CPU time), and
 * a shop's services run warm. BENCH_WARMUP_SECONDS=0 measures them cold.
 */
const WARMUP_MS = Number(process.env.BENCH_WARMUP_SECONDS ?? 60) * 1000;
const POLL_MS = 10;
const SETTLE_TIMEOUT_MS = 120_000;
/**
 * The statuses an order passes through to CONFIRMED, and the shipment booked with it, whose
 * steps are reported one by one.
 */
const STEPS = ["STOCK_RESERVED", "PAID", "CONFIRMED", "SHIPPED"];
/** Whose CPU time is reported per order; "bench" is this process (shoppers and stand-ins). */
const CPU_GROUPS = ["order", "inventory", "payment", "bench", "postgres", "kafka"];

/**
 * Tells shoppers when their order settled. One shared poller reads the order database's status
 * history every POLL_MS for all pending ids at once, instead of each shopper polling GetOrder:
 * one indexed query per tick costs the system under test next to nothing whatever the number
 * of shoppers, whereas 64 shoppers polling GetOrder at a realistic 100-250 ms would add
 * hundreds of authenticated RPCs per second to the order process on a 2-core machine and
 * measure the poller as much as the saga.
 */
function settledWatcher(db: pg.Client) {
  const waiting = new Map<string, { resolve: (seenAt: number) => void; since: number }>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      if (waiting.size > 0) {
        const { rows } = await db.query<{ order_id: string }>({
          // Named: planned once, not on every tick.
          name: "settled",
          text: "SELECT DISTINCT order_id FROM order_status_history WHERE status IN ('CONFIRMED', 'CANCELLED') AND order_id = ANY($1::uuid[])",
          values: [[...waiting.keys()]],
        });
        const seenAt = Date.now();
        for (const { order_id } of rows) {
          waiting.get(order_id)?.resolve(seenAt);
          waiting.delete(order_id);
        }
        for (const [id, w] of waiting) {
          if (Date.now() - w.since > SETTLE_TIMEOUT_MS) {
            throw new Error(`order ${id} not settled after ${SETTLE_TIMEOUT_MS} ms`);
          }
        }
      }
      await sleep(POLL_MS);
    }
  })();
  return {
    /** Resolves with the time the order was seen CONFIRMED or CANCELLED. */
    settled(orderId: string): Promise<number> {
      return new Promise<number>((resolve, reject) => {
        waiting.set(orderId, { resolve, since: Date.now() });
        loop.catch(reject);
      });
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** Linux's USER_HZ: /proc counts CPU time in 1/100 s on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) each group of processes has used so far, read from /proc; groups
 * are told apart by `groupOf(pid, cmdline)`. Undefined where there is no /proc (not Linux).
 * Why: this machine's speed swings by a quarter from run to run whatever the code, so checkouts/s
 * alone cannot tell a change from a slow spell; CPU per order, process by process, can.
 */
function cpuSeconds(
  groupOf: (pid: number, cmdline: string) => string | undefined,
): Map<string, number> | undefined {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  const used = new Map<string, number>();
  for (const pid of pids) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
      const group = groupOf(Number(pid), cmdline);
      if (!group) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the command name (which may hold spaces): utime and stime are 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ticks = Number(fields[11]) + Number(fields[12]);
      used.set(group, (used.get(group) ?? 0) + ticks / TICKS_PER_SECOND);
    } catch {
      // The process ended while we read it.
    }
  }
  return used;
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? Number.NaN
    : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function main() {
  console.log("bench:checkout — starting inventory, payment and order (fresh databases)...");
  const peers = await startFakePeers();
  const tokens = await createTestTokens();
  const jwks = await serveTestJwks(tokens);
  const env = { USER_ADDR: jwks.address, LOG_LEVEL: "warn" };
  const procs: ServiceProcess[] = [];
  try {
    const [inventory, payment] = await Promise.all([
      startServiceProcess("inventory", { ...env, LOG_LEVEL: "info" }),
      startServiceProcess("payment", { ...env, LOG_LEVEL: "info" }),
    ]);
    procs.push(inventory!, payment!);
    const order = await startServiceProcess("order", {
      ...env,
      LOG_LEVEL: "info",
      CATALOG_ADDR: peers.address,
      SHIPPING_ADDR: peers.address,
      INVENTORY_ADDR: inventory!.address,
      PAYMENT_ADDR: payment!.address,
      SAGA_CONCURRENCY: "64",
      SAGA_SWEEP_INTERVAL_MS: "200",
      // 64 sagas in flight share the pool with PlaceOrder and the consumer: the default 10
      // connections queue them (measured: 24 gives ~10% more checkouts/s at 64 shoppers).
      DB_POOL_SIZE: "24",
    });
    procs.push(order);
    const servicePids = new Map(procs.map((p) => [p.child.pid, p.name]));
    const groupOf = (pid: number, cmdline: string) => {
      if (pid === process.pid) return "bench";
      if (cmdline.startsWith("postgres")) return "postgres";
      if (cmdline.includes("kafka.Kafka")) return "kafka";
      return servicePids.get(pid);
    };
    const admin = {
      metadata: {
        authorization: `Bearer ${await tokens.sign({ sub: uuidv7(), roles: ["customer", "admin"] })}`,
      },
    };
    const inv = createClient(InventoryService, inventory!.address, { timeoutMs: 10_000 });
    const pay = createClient(PaymentService, payment!.address, { timeoutMs: 10_000 });
    const orders = createClient(OrderService, order.address, { timeoutMs: 10_000 });
    const db = new pg.Client({ database: order.dbName });
    await db.connect();

    const variants = Array.from({ length: 20 }, () => peers.addVariant({ priceMinor: 1_999 }, 0));
    for (const v of variants) {
      await inv.adjustStock(
        {
          variantId: v.id,
          change: { case: "setOnHand", value: 1_000_000 },
          reason: AdjustmentReason.INITIAL,
          idempotencyKey: `bench-${v.id}`,
        },
        admin,
      );
    }
    const shopperAuth = {
      metadata: { authorization: `Bearer ${await tokens.sign({ sub: uuidv7() })}` },
    };
    const { token } = await pay.tokenizeCard(
      {
        cardNumber: "4242424242424242",
        expMonth: 12,
        expYear: 2040,
        cvc: "123",
        cardholderName: "Bench",
      },
      shopperAuth,
    );

    const watcher = settledWatcher(db);
    /** `count` shoppers, each a user with a token of its own. */
    const shoppersOf = (count: number) =>
      Promise.all(
        Array.from({ length: count }, async () => {
          const id = uuidv7();
          return {
            id,
            auth: {
              metadata: {
                authorization: `Bearer ${await tokens.sign({ sub: id, expiresIn: "1h" })}`,
              },
            },
          };
        }),
      );
    /**
     * The shoppers in a closed loop, placing orders until `ms` have passed; resolves, once
     * each has settled, with every order placed: when its PlaceOrder was called and when it
     * was seen settled.
     */
    const shop = async (users: Awaited<ReturnType<typeof shoppersOf>>, ms: number) => {
      const placed = new Map<string, { calledAt: number; seenAt: number }>();
      const deadline = Date.now() + ms;
      await Promise.all(
        users.map(async (user, s) => {
          for (let i = 0; Date.now() < deadline; i++) {
            const calledAt = Date.now();
            const { order: o } = await orders.placeOrder(
              {
                idempotencyKey: `bench-${randomUUID()}`,
                userId: user.id,
                items: [{ variantId: variants[(s + i) % variants.length]!.id, quantity: 1 }],
                shippingAddress: {
                  fullName: "B",
                  line1: "1 Main St",
                  city: "Austin",
                  region: "TX",
                  postalCode: "78701",
                  countryCode: "US",
                },
                paymentMethodToken: token,
                currencyCode: "USD",
              },
              user.auth,
            );
            placed.set(o!.id, { calledAt, seenAt: await watcher.settled(o!.id) });
          }
        }),
      );
      return placed;
    };

    if (WARMUP_MS > 0) {
      const shoppers = Math.max(...LEVELS);
      const warmup = await shop(await shoppersOf(shoppers), WARMUP_MS);
      const perSecond = (warmup.size / (WARMUP_MS / 1000)).toFixed(1);
      console.log(
        `warm-up: ${shoppers} shoppers placed ${warmup.size} orders in ${WARMUP_MS / 1000} s (${perSecond}/s), not counted`,
      );
    }
    const rows: string[] = [];
    for (const shoppers of LEVELS) {
      const users = await shoppersOf(shoppers);
      const cpuBefore = cpuSeconds(groupOf);
      const started = Date.now();
      const placed = await shop(users, LEVEL_MS);
      // Read before the reporting queries below, which are the bench's own work.
      const cpuAfter = cpuSeconds(groupOf);
      const ids = [...placed.keys()];
      const { rows: confirmedRows } = await db.query<{ order_id: string }>(
        "SELECT order_id FROM order_status_history WHERE status = 'CONFIRMED' AND order_id = ANY($1::uuid[])",
        [ids],
      );
      const confirmed = confirmedRows.map((r) => placed.get(r.order_id)!);
      const seconds = (Math.max(...confirmed.map((c) => c.seenAt)) - started) / 1000;
      const sorted = confirmed.map((c) => c.seenAt - c.calledAt).sort((a, b) => a - b);
      const row = `${String(shoppers).padStart(3)} shoppers | ${String(ids.length).padStart(4)} orders | ${(confirmed.length / seconds).toFixed(1).padStart(6)} checkouts/s | p50 ${percentile(sorted, 50).toFixed(0).padStart(5)} ms | p99 ${percentile(sorted, 99).toFixed(0).padStart(5)} ms | ${ids.length - confirmed.length} not confirmed`;
      console.log(row);
      rows.push(row);
      // Where the time goes: each step's share, from the previous status entry to its own.
      const { rows: steps } = await db.query<{ status: string; p50: number; p99: number }>(
        `SELECT status, percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
                percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
         FROM (SELECT status, EXTRACT(EPOCH FROM (at - lag(at) OVER w)) * 1000 AS ms
               FROM order_status_history WHERE order_id = ANY($1::uuid[])
               WINDOW w AS (PARTITION BY order_id ORDER BY id)) s
         WHERE ms IS NOT NULL AND status = ANY($2::text[])
         GROUP BY status`,
        [ids, STEPS],
      );
      const detail = STEPS.map((status) => steps.find((r) => r.status === status))
        .filter((r) => r !== undefined)
        .map((r) => `${r.status} ${Number(r.p50).toFixed(0)}/${Number(r.p99).toFixed(0)} ms`);
      console.log(`      step p50/p99 from the status before: ${detail.join(", ")}`);
      if (cpuBefore && cpuAfter) {
        const perOrder = CPU_GROUPS.map((g) => {
          const ms = (((cpuAfter.get(g) ?? 0) - (cpuBefore.get(g) ?? 0)) * 1000) / ids.length;
          return `${g} ${ms.toFixed(1)}`;
        });
        console.log(`      CPU ms per order: ${perOrder.join(", ")}`);
      }
    }
    await watcher.stop();
    await db.end();
    console.log(
      "\nbench:checkout (PlaceOrder -> CONFIRMED, seen by the shopper: reserve stock, charge, commit, book the shipment)\n" +
        rows.join("\n"),
    );
  } finally {
    await Promise.all(procs.map((p) => p.kill()));
    for (const p of procs) await dropTestDatabase(p.dbName);
    await jwks.close();
    await peers.close();
    closeClients();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error("bench:checkout failed:", err);
    console.error(
      "Is the infrastructure up? Run `npm run infra:up` and `source deploy/local/env.sh`.",
    );
    process.exit(1);
  },
);
