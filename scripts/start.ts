/**
 * `npm start`: brings the local infrastructure up, then runs every service under services/ and
 * the edge as separate processes, prefixing their logs, and stops them all cleanly on Ctrl-C.
 * A service is any services/<name>/ with a src/main.ts; its port comes from its own config.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;

function infraUp(): void {
  execFileSync("bash", [join(root, "deploy/local/infra.sh"), "up"], { stdio: "inherit" });
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
