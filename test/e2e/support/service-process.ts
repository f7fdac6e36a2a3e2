import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { dropDatabase } from "@shopmesh/platform/db";
import type { Kafka } from "kafkajs";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/** A service running as its own process, as in production. */
export interface ServiceProcess {
  name: string;
  /** `127.0.0.1:<port>` of its gRPC server. */
  address: string;
  /** Its database, when it has one (DB_NAME). */
  dbName: string;
  child: ChildProcess;
  /** Every log line it printed, for assertions and post-mortems. */
  logs: string[];
  /** Sends `signal` (SIGTERM by default) and waits for the exit; SIGKILL after 15 s. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `services/<name>/src/main.ts` as a child process on a free port and resolves once it
 * logs `<name> listening`. Every start gets its own database and Kafka consumer group unless
 * `env` pins DB_NAME / KAFKA_GROUP_ID (pin them to restart "the same" instance after a kill).
 */
export async function startServiceProcess(
  name: string,
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  const suffix = randomUUID().slice(0, 8);
  const dbName = env.DB_NAME ?? `shopmesh_${name}_test_${suffix}`;
  const main = `${REPO}services/${name}/src/main.ts`;
  const child = spawn(process.execPath, ["--import", "tsx", main], {
    cwd: REPO,
    env: {
      ...process.env,
      GRPC_PORT: "0",
      METRICS_PORT: "0",
      DB_NAME: dbName,
      KAFKA_GROUP_ID: `${name}-test-${suffix}`,
      KAFKA_FROM_BEGINNING: "false",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: string[] = [];
  let port: number | undefined;
  const listening = new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        logs.push(line);
        if (port === undefined && line.includes(`"${name} listening"`)) {
          port = JSON.parse(line).port as number;
          resolve(port);
        }
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) =>
      reject(
        new Error(`${name} exited (${code}) before listening:\n${logs.slice(-20).join("\n")}`),
      ),
    );
  });
  const timeout = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    await listening;
  } finally {
    clearTimeout(timeout);
  }
  return {
    name,
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

/** Drops a test database and the role ensureDatabase made for it; never fails. */
export async function dropTestDatabase(name: string): Promise<void> {
  await dropDatabase(name, { role: name }).catch(() => undefined);
}

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs` naming what it waited for. */
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

/**
 * Commits offsets at the end of `topics` for a group that has never run, so it skips history
 * and nothing published from now on (KAFKA_FROM_BEGINNING=false only decides at the member's
 * first fetch). A topic that does not exist yet (a fresh broker) has no history to skip.
 */
export async function startGroupAtEnd(
  kafka: Kafka,
  groupId: string,
  topics: string[],
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of topics.filter((t) => existing.has(t))) {
      const offsets = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId,
        topic,
        partitions: offsets.map((o) => ({ partition: o.partition, offset: o.high })),
      });
    }
  } finally {
    await admin.disconnect();
  }
}
