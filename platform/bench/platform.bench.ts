/**
 * `npm run bench:platform`: every benchmark of the shared runtime in one run, printing each
 * one's table and then all headline figures together. The gRPC benchmark needs nothing; the
 * outbox benchmark needs the local Postgres and Kafka (`npm run infra:up`). A benchmark that
 * fails is reported and the run exits 1 after the others have printed.
 */
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { runGrpcBench } from "./grpc.bench.ts";

interface Result {
  name: string;
  figures: Record<string, number>;
  summary: string;
}

type Bench = { name: string; run: () => Promise<Result> } | { name: string; skipped: string };

const outboxModule = new URL("./outbox.bench.ts", import.meta.url);

async function outboxBench(): Promise<Bench> {
  if (!existsSync(outboxModule)) {
    return { name: "outbox", skipped: "platform/bench/outbox.bench.ts does not exist yet" };
  }
  const module = (await import(outboxModule.href)) as { runOutboxBench?: () => Promise<Result> };
  if (typeof module.runOutboxBench !== "function") {
    return { name: "outbox", skipped: "outbox.bench.ts exports no runOutboxBench()" };
  }
  return { name: "outbox", run: module.runOutboxBench };
}

const benches: Bench[] = [{ name: "grpc", run: () => runGrpcBench() }, await outboxBench()];
const figures: [string, number][] = [];
const failures: string[] = [];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");
console.log(`platform benchmarks; load average (1/5/15 min): ${load()}\n`);

for (const bench of benches) {
  if ("skipped" in bench) {
    console.log(`== ${bench.name}: skipped (${bench.skipped})\n`);
    continue;
  }
  console.log(`== ${bench.name}`);
  try {
    const result = await bench.run();
    console.log(`${result.summary}\n`);
    for (const [key, value] of Object.entries(result.figures)) {
      figures.push([`${result.name}: ${key}`, value]);
    }
  } catch (err) {
    failures.push(bench.name);
    console.log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    if (bench.name === "outbox") console.log("(is the local infrastructure up? npm run infra:up)");
    console.log("");
  }
}

console.log("== headline figures");
const width = Math.max(...figures.map(([key]) => key.length), 10);
for (const [key, value] of figures) {
  console.log(`${key.padEnd(width)}  ${value >= 100 ? value.toFixed(0) : value.toFixed(2)}`);
}
console.log(`load average after: ${load()}`);
if (failures.length > 0) {
  console.log(`failed: ${failures.join(", ")}`);
  process.exitCode = 1;
}
