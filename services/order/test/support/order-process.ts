import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { dropDatabase } from "@shopmesh/platform/db";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));

/** A running order service child process. */
export interface OrderProcess {
  address: string;
  dbName: string;
  child: ChildProcess;
  /** Every log line it printed, for assertions and post-mortems. */
  logs: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts services/order/src/main.ts as a child process on a free port with the given peer
 * addresses and environment, and resolves once it logs that it listens. Each call gets its
 * own database and consumer group unless `env` pins them (to restart "the same" service).
 */
export async function startOrderProcess(env: Record<string, string>): Promise<OrderProcess> {
  const suffix = randomUUID().slice(0, 8);
  const dbName = env.DB_NAME ?? `shopmesh_orders_test_${suffix}`;
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], {
    env: {
      ...process.env,
      GRPC_PORT: "0",
      METRICS_PORT: "0",
      DB_NAME: dbName,
      KAFKA_GROUP_ID: `order-test-${suffix}`,
      KAFKA_FROM_BEGINNING: "false",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  let port: number | undefined;
  const listening = new Promise<number>((resolve, reject) => {
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        logs.push(line);
        if (port === undefined && line.includes('"order listening"')) {
          port = JSON.parse(line).port as number;
          resolve(port);
        }
      }
    };
    child.stdout!.on("data", onLine);
    child.stderr!.on("data", onLine);
    child.once("exit", (code) =>
      reject(new Error(`order exited (${code}) before listening:\n${logs.slice(-20).join("\n")}`)),
    );
  });
  const timeout = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    await listening;
  } finally {
    clearTimeout(timeout);
  }
  return {
    address: `127.0.0.1:${port}`,
    dbName,
    child,
    logs,
    async kill(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Drops a test database and the role ensureDatabase made for it. */
export async function dropOrderDatabase(name: string): Promise<void> {
  await dropDatabase(name, { role: name }).catch(() => undefined);
}

/** Polls `check` until it returns a value, or fails after `timeoutMs` naming what it waited for. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
