/**
 * Unary round-trip benchmark of the platform gRPC server against a bare @grpc/grpc-js server
 * serving the same message. Each server runs in its own child process; this process drives a
 * fixed number of concurrent in-flight Echo calls with a plain grpc-js client, after a warm-up,
 * for a fixed time. Run alone with `tsx platform/bench/grpc.bench.ts`, or through
 * `npm run bench:platform`.
 */
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import { Client, credentials } from "@grpc/grpc-js";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { deserializer, serializer } from "@shopmesh/platform/service-definition";
import { type ProbeProcess, spawnProbe } from "../test/fixtures/probe-process.ts";
import {
  EchoRequestSchema,
  EchoResponseSchema,
  ProbeService,
} from "../test/gen/shopmesh/platformtest/v1/probe_pb.ts";

/** One measured scenario, aggregated over all rounds. */
export interface BenchRow {
  name: string;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU time (user + system) per request, in microseconds; NaN off Linux. */
  serverCpuUsPerRequest: number;
}

/** What a benchmark returns: its rows, headline figures, and a printable summary. */
export interface BenchResult {
  name: string;
  rows: BenchRow[];
  /** Headline figures, e.g. `{ "platform/bare throughput": 0.86 }`. */
  figures: Record<string, number>;
  summary: string;
}

/** Knobs of {@link runGrpcBench}; the defaults take about 30 s. */
export interface GrpcBenchOptions {
  /** Calls kept in flight. Default 32. */
  concurrency?: number;
  /** Warm-up per scenario before measuring. Default 2 s. */
  warmupMs?: number;
  /** Measured time per scenario per round. Default 1 s. */
  roundMs?: number;
  /**
   * Rounds (default 8). Scenarios alternate within each, and ratios are taken per round and
   * then their median, so load from other processes on the machine hits every scenario alike.
   */
  rounds?: number;
}

type Call = () => Promise<unknown>;

interface Scenario {
  name: string;
  call: Call;
  serverPid: number;
  latencies: number[];
  seconds: number;
  cpuSeconds: number;
  /** Requests per second of each round. */
  roundRates: number[];
}

const request = create(EchoRequestSchema, { text: "hello shopmesh", count: 3 });

/** Keeps `concurrency` calls in flight until `durationMs` has passed. */
async function drive(call: Call, concurrency: number, durationMs: number, latencies: number[]) {
  const until = performance.now() + durationMs;
  const worker = async () => {
    while (performance.now() < until) {
      const started = performance.now();
      await call();
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (performance.now() - started) / 1000;
}

/** CPU seconds (user + system) a process has used, from /proc; NaN where there is no /proc. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = 100; // USER_HZ, 100 on every mainstream Linux

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

/** A plain grpc-js client call of Echo, identical for both servers. */
function rawEcho(address: string): { call: Call; close(): void } {
  const client = new Client(address, credentials.createInsecure());
  const serialize = serializer(EchoRequestSchema);
  const deserialize = deserializer(EchoResponseSchema);
  const path = "/shopmesh.platformtest.v1.ProbeService/Echo";
  const call = () =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        path,
        serialize,
        deserialize,
        request,
        { deadline: Date.now() + 5_000 },
        (err, response) => (err ? reject(err) : resolve(response)),
      );
    });
  return { call, close: () => client.close() };
}

function row(s: Scenario): BenchRow {
  const sorted = Float64Array.from(s.latencies).sort();
  return {
    name: s.name,
    requests: s.latencies.length,
    requestsPerSecond: s.latencies.length / s.seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    serverCpuUsPerRequest: (s.cpuSeconds * 1e6) / s.latencies.length,
  };
}

/**
 * Measures requests/s, p50/p99 latency and server CPU per request of unary Echo against the
 * bare grpc-js server, the platform server (validation, metrics, tracing, context, error
 * mapping all on), and the platform server called through the platform client (deadline,
 * breaker, retry policy). Server CPU per request is the steadier figure on a busy machine.
 */
export async function runGrpcBench(options: GrpcBenchOptions = {}): Promise<BenchResult> {
  const opts = { concurrency: 32, warmupMs: 2_000, roundMs: 1_000, rounds: 8, ...options };
  const servers: ProbeProcess[] = [];
  const clients: { close(): void }[] = [];
  try {
    const bare = await spawnProbe({}, "bare-probe-server");
    servers.push(bare);
    const platform = await spawnProbe({}, "probe-server");
    servers.push(platform);
    const bareClient = rawEcho(bare.address);
    const platformRaw = rawEcho(platform.address);
    clients.push(bareClient, platformRaw);
    const platformClient = createClient(ProbeService, platform.address);
    const scenario = (name: string, call: Call, serverPid: number): Scenario => ({
      name,
      call,
      serverPid,
      latencies: [],
      seconds: 0,
      cpuSeconds: 0,
      roundRates: [],
    });
    const scenarios = [
      scenario("bare grpc-js server", bareClient.call, bare.pid),
      scenario("platform server", platformRaw.call, platform.pid),
      scenario(
        "platform server + platform client",
        () => platformClient.echo(request),
        platform.pid,
      ),
    ];
    for (const s of scenarios) await drive(s.call, opts.concurrency, opts.warmupMs, []);
    for (let round = 0; round < opts.rounds; round++) {
      for (const s of scenarios) {
        const cpuBefore = cpuSeconds(s.serverPid);
        const requestsBefore = s.latencies.length;
        const seconds = await drive(s.call, opts.concurrency, opts.roundMs, s.latencies);
        s.seconds += seconds;
        s.cpuSeconds += cpuSeconds(s.serverPid) - cpuBefore;
        s.roundRates.push((s.latencies.length - requestsBefore) / seconds);
      }
    }
    const [bareRun, platformRun, fullRun] = scenarios as [Scenario, Scenario, Scenario];
    const perRound = (a: Scenario) =>
      median(a.roundRates.map((r, i) => r / bareRun.roundRates[i]!));
    return summarise(scenarios.map(row), perRound(platformRun), perRound(fullRun), opts);
  } finally {
    closeClients();
    for (const client of clients) client.close();
    for (const server of servers) {
      server.signal("SIGTERM");
      const killer = setTimeout(() => server.signal("SIGKILL"), 15_000);
      await server.exited;
      clearTimeout(killer);
    }
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarise(
  rows: BenchRow[],
  platformRatio: number,
  fullRatio: number,
  opts: Required<GrpcBenchOptions>,
): BenchResult {
  const [bare, platform] = rows as [BenchRow, BenchRow, BenchRow];
  const figures = {
    "platform/bare throughput": platformRatio,
    "platform/bare server CPU per request":
      platform.serverCpuUsPerRequest / bare.serverCpuUsPerRequest,
    "full/bare throughput": fullRatio,
  };
  const num = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
  const lines = [
    `unary Echo, ${opts.concurrency} in flight, ${opts.rounds} alternating rounds of ${opts.roundMs / 1000} s after ${opts.warmupMs / 1000} s warm-up; servers in child processes`,
    `${"scenario".padEnd(36)}${"req/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"srv CPU µs/req".padStart(16)}`,
    ...rows.map(
      (r) =>
        `${r.name.padEnd(36)}${num(r.requestsPerSecond, 0).padStart(9)}${num(r.p50Ms, 2).padStart(9)}${num(r.p99Ms, 2).padStart(9)}${num(r.serverCpuUsPerRequest, 1).padStart(16)}`,
    ),
    `platform/bare throughput (median of per-round ratios): ${num(figures["platform/bare throughput"], 2)} (goal >= 0.80)`,
    `platform/bare server CPU per request: ${num(figures["platform/bare server CPU per request"], 2)} (lower is better; 1.25 = the 0.8 goal)`,
    `platform client+server / bare throughput: ${num(figures["full/bare throughput"], 2)}`,
    `machine load average (1 min) at the end: ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores`,
  ];
  return { name: "grpc", rows, figures, summary: lines.join("\n") };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await runGrpcBench();
  console.log(result.summary);
}
