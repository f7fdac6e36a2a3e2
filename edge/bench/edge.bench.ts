/**
 * `npm run bench:edge`: GET one product through the edge (REST/JSON over HTTP/1.1) versus the
 * same RPC straight to a catalog-contract gRPC server, both from this process as the load
 * generator while the catalog stand-in and the edge run as their own processes. Prints
 * requests/s, p50 and p99 of each and the edge/direct throughput ratio (goal >= 0.5).
 * Bounded (a few seconds per phase, fixed concurrency) and 127.0.0.1 only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Agent, request } from "node:http";
import { createInterface } from "node:readline";
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 5_000);
const WARMUP_MS = 1_000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const PRODUCT_ID = "0190c5d2-7a3e-7b1c-9f00-000000000001";
const root = new URL("../..", import.meta.url).pathname;
const children: ChildProcess[] = [];

function start(entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: root,
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return child;
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  for await (const line of lines) return line;
  throw new Error("child exited before printing its port");
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

async function load(once: () => Promise<void>): Promise<Result> {
  const run = async (ms: number, latencies: number[] | undefined) => {
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
  await run(WARMUP_MS, undefined);
  const latencies: number[] = [];
  const started = performance.now();
  const errors = await run(DURATION_MS, latencies);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99), errors };
}

function show(name: string, r: Result): void {
  console.log(
    `${name.padEnd(28)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${r.p50.toFixed(2)} ms   p99 ${r.p99.toFixed(2)} ms   errors ${r.errors}`,
  );
}

try {
  const catalog = start("edge/bench/catalog-stand-in.ts", {});
  const catalogPort = Number(await firstLine(catalog));
  const edgePort = 18_000 + Math.floor(Math.random() * 2_000);
  start("edge/src/main.ts", {
    EDGE_PORT: String(edgePort),
    EDGE_HOST: "127.0.0.1",
    CATALOG_ADDR: `127.0.0.1:${catalogPort}`,
    EDGE_RATE_KEY_PREFIX: `edge-bench:${process.pid}:`,
    EDGE_RATE_IP_PER_MINUTE: "100000000",
    EDGE_RATE_IP_BURST: "1000000",
  });
  await waitFor(`http://127.0.0.1:${edgePort}/healthz`);
  console.log(`bench:edge — ${CONCURRENCY} concurrent callers, ${DURATION_MS} ms per phase`);

  const grpc = createClient(CatalogService, `127.0.0.1:${catalogPort}`, { breaker: false });
  const direct = await load(async () => {
    await grpc.getProduct({ productId: PRODUCT_ID });
  });
  show("gRPC straight to catalog", direct);

  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const viaEdge = await load(
    () =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port: edgePort, path: `/api/v1/products/${PRODUCT_ID}`, agent },
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
  );
  show("REST/JSON through the edge", viaEdge);
  agent.destroy();
  const ratio = viaEdge.rps / direct.rps;
  console.log(`edge/direct throughput ratio ${ratio.toFixed(2)} (goal >= 0.5)`);
} finally {
  closeClients();
  for (const child of children) child.kill("SIGTERM");
}
