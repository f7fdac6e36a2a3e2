/**
 * `npm run bench:edge`: GET a product through the edge (REST/JSON over HTTP/1.1) versus the
 * same RPC straight to the real catalog service over gRPC, both from this process as the load
 * generator while the catalog (its own throwaway database, a few fixture products created
 * through CreateProduct) and the edge run as their own processes. Prints requests/s, p50 and
 * p99 of each and the edge/direct throughput ratio (goal >= 0.5). Bounded (a few seconds per
 * phase, fixed concurrency), 127.0.0.1 only, and it removes its database and Redis keys.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createTestTokens, serveTestJwks } from "@shopmesh/platform/testing/test-tokens";
import { Redis } from "ioredis";
import {
  dropTestDatabase,
  type ServiceProcess,
  startServiceProcess,
} from "../../test/e2e/support/service-process.ts";

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const WARMUP_MS = 1_000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FIXTURE_PRODUCTS = 5;
const root = new URL("../..", import.meta.url).pathname;
const children: ChildProcess[] = [];

function start(entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(child);
  return child;
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered`);
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/**
 * Loads `paths` in alternating slices (ROUNDS per path, DURATION_MS in all per path), so a
 * neighbour's burst on the shared machine lands on both paths alike rather than on one phase.
 */
async function load(paths: (() => Promise<void>)[]): Promise<Result[]> {
  const run = async (once: () => Promise<void>, ms: number, latencies: number[] | undefined) => {
    const end = performance.now() + ms;
    let errors = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) {
          const t = performance.now();
          try {
            await once();
            latencies?.push(performance.now() - t);
          } catch {
            errors++;
          }
        }
      }),
    );
    return errors;
  };
  for (const once of paths) await run(once, WARMUP_MS, undefined);
  const totals = paths.map(() => ({ latencies: [] as number[], seconds: 0, errors: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, once] of paths.entries()) {
      const total = totals[i]!;
      const started = performance.now();
      total.errors += await run(once, DURATION_MS / ROUNDS, total.latencies);
      total.seconds += (performance.now() - started) / 1000;
    }
  }
  return totals.map(({ latencies, seconds, errors }) => {
    latencies.sort((a, b) => a - b);
    const at = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return { rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors };
  });
}

function show(name: string, r: Result): void {
  console.log(
    `${name.padEnd(28)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   errors ${r.errors}`,
  );
}

const tokens = await createTestTokens();
const jwks = await serveTestJwks(tokens);
const ratePrefix = `edge-bench:${process.pid}:`;
let catalog: ServiceProcess | undefined;
try {
  catalog = await startServiceProcess("catalog", { USER_ADDR: jwks.address });
  const grpc = createClient(CatalogService, catalog.address, { breaker: false });
  const admin = {
    metadata: {
      authorization: `Bearer ${await tokens.sign({ sub: crypto.randomUUID(), roles: ["customer", "admin"] })}`,
    },
  };
  const run = crypto.randomUUID().slice(0, 8);
  const productIds: string[] = [];
  for (let i = 0; i < FIXTURE_PRODUCTS; i++) {
    const { product } = await grpc.createProduct(
      {
        product: {
          name: `Trail Shoe ${i}`,
          slug: `bench-trail-shoe-${run}-${i}`,
          description: "A light trail running shoe with a grippy outsole.",
          brand: "Acme",
          active: true,
          tags: ["running", "trail"],
          variants: [
            {
              sku: `BENCH-${run}-${i}`,
              price: { currencyCode: "EUR", amountMinor: 12_999n },
              attributes: { size: "42", colour: "blue" },
              weightGrams: 640,
              active: true,
            },
          ],
        },
      },
      admin,
    );
    productIds.push(product!.id);
  }
  let next = 0;
  const productId = () => productIds[next++ % productIds.length]!;

  const edgePort = 18_000 + Math.floor(Math.random() * 2_000);
  start("edge/src/main.ts", {
    EDGE_PORT: String(edgePort),
    EDGE_HOST: "127.0.0.1",
    CATALOG_ADDR: catalog.address,
    USER_ADDR: jwks.address,
    EDGE_REQUIRED_SERVICES: "catalog",
    EDGE_RATE_KEY_PREFIX: ratePrefix,
    EDGE_RATE_IP_PER_MINUTE: "100000000",
    EDGE_RATE_IP_BURST: "1000000",
  });
  await waitFor(`http://127.0.0.1:${edgePort}/readyz`);
  console.log(
    `bench:edge — real catalog service (${FIXTURE_PRODUCTS} products in Postgres), ${CONCURRENCY} concurrent callers, ${DURATION_MS} ms per path in ${ROUNDS} alternating slices`,
  );

  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const [direct, viaEdge] = await load([
    async () => {
      await grpc.getProduct({ productId: productId() });
    },
    () =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: edgePort, path: `/api/v1/products/${productId()}`, agent },
          (res) => {
            res.resume();
            res.on("end", () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode}`)),
            );
          },
        );
        req.on("error", reject);
        req.end();
      }),
  ]);
  show("gRPC straight to catalog", direct!);
  show("REST/JSON through the edge", viaEdge!);
  agent.destroy();
  const ratio = viaEdge!.rps / direct!.rps;
  console.log(`edge/direct throughput ratio ${ratio.toFixed(2)} (goal >= 0.5)`);
} finally {
  closeClients();
  for (const child of children) child.kill("SIGTERM");
  await catalog?.kill();
  await jwks.close();
  if (catalog) await dropTestDatabase(catalog.dbName);
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", {
    maxRetriesPerRequest: 1,
  });
  const keys = await redis.keys(`${ratePrefix}*`).catch(() => [] as string[]);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}
