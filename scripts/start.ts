/**
 * `npm start`: brings the local infrastructure up, then runs every service under services/ and
 * the edge as separate processes, prefixing their logs, and stops them all cleanly on Ctrl-C.
 * A service is any services/<name>/ with a src/main.ts; its port comes from its own config.
 * The demo catalog is loaded first, so a fresh shop has products in stock.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

function infraUp(): void {
  execFileSync("bash", [join(root, "deploy/local/infra.sh"), "up"], { stdio: "inherit" });
}

/** Adds the local connection settings of deploy/local/env.sh to this process's environment. */
function loadLocalEnv(): void {
  const dump = execFileSync("bash", ["-c", "source deploy/local/env.sh && env -0"], { cwd: root });
  for (const entry of dump.toString().split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) process.env[entry.slice(0, eq)] ??= entry.slice(eq + 1);
  }
}

/**
 * Loads the demo catalog (idempotent; a second start changes nothing). It writes through the
 * catalog's own commands, so the catalog's relay publishes product.created once it starts and
 * inventory stocks every variant from the events. `SHOPMESH_DEMO_DATA=false` skips it.
 */
function seedDemoData(): void {
  if (process.env.SHOPMESH_DEMO_DATA === "false") return;
  if (!existsSync(join(root, "services/catalog/src/demo/seed-catalog.ts"))) return;
  console.log("start: loading the demo catalog");
  execFileSync("npm", ["run", "--silent", "demo:seed", "-w", "services/catalog"], {
    cwd: root,
    stdio: "inherit",
  });
}

/** Every process `npm start` runs: each service, then the edge (it needs the services). */
function processes(): { name: string; entry: string }[] {
  const found: { name: string; entry: string }[] = [];
  const servicesDir = join(root, "services");
  const names = existsSync(servicesDir) ? readdirSync(servicesDir).sort() : [];
  for (const name of names) {
    const entry = join(servicesDir, name, "src/main.ts");
    if (existsSync(entry)) found.push({ name, entry });
  }
  const edge = join(root, "edge/src/main.ts");
  if (existsSync(edge)) found.push({ name: "edge", entry: edge });
  return found;
}

function run(name: string, entry: string): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: root,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const prefix = `[${name}] `;
  for (const stream of [child.stdout, child.stderr]) {
    let partial = "";
    stream?.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) process.stdout.write(prefix + line + "\n");
    });
  }
  return child;
}

async function main(): Promise<void> {
  infraUp();
  loadLocalEnv();
  seedDemoData();
  const list = processes();
  if (list.length === 0) {
    console.log("start: no services yet (services/*/src/main.ts); infrastructure is up.");
    return;
  }
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  for (const { name, entry } of list) {
    const child = run(name, entry);
    children.set(name, child);
    child.on("exit", (code, signal) => {
      children.delete(name);
      if (!stopping) console.error(`start: ${name} exited (${signal ?? code}); stopping the shop`);
      stop();
    });
  }
  console.log(`start: running ${list.map((p) => p.name).join(", ")}; Ctrl-C stops everything`);
  const edgeUrl = `http://127.0.0.1:${process.env.EDGE_PORT ?? 8080}`;
  console.log(`start: REST/JSON, Connect and gRPC-Web at ${edgeUrl}/api/v1/...`);
  console.log(`start: API docs at ${edgeUrl}/docs (OpenAPI: ${edgeUrl}/openapi.json)`);
  console.log("start: gRPC services on 127.0.0.1:50051-50058 (buf curl --protocol grpc ...)");

  function stop(): void {
    if (stopping) {
      if (children.size === 0) process.exit(0);
      return;
    }
    stopping = true;
    for (const child of children.values()) child.kill("SIGTERM");
    const force = setTimeout(() => {
      for (const child of children.values()) child.kill("SIGKILL");
    }, 15_000);
    force.unref();
  }
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

await main();
