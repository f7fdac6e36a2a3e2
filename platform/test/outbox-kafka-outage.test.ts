import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { kafkaSocketsOpen } from "./fixtures/kafka-sockets.ts";
import { expectEveryEventDelivered } from "./fixtures/outbox/e2e-assertions.ts";
import { createScenario } from "./fixtures/outbox/e2e-harness.ts";
import { spawnRelay } from "./fixtures/outbox/relay-child.ts";
import { sleep, waitFor } from "./fixtures/outbox/support.ts";

const EVENTS = 10_000;
const root = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

/** Stops or starts the local Kafka through the infrastructure script, as an operator would. */
async function kafka(action: "stop" | "start"): Promise<void> {
  await run("bash", ["deploy/local/infra.sh", action, "kafka"], { cwd: root, timeout: 150_000 });
}

describe("outbox under a Kafka outage", { timeout: 300_000 }, () => {
  test("writers keep committing while Kafka is down for 10 s; afterwards every event arrives once, in order", async () => {
    // Paced writers: the run lasts ~30 s, so the outage falls in its middle.
    const scenario = await createScenario({
      events: EVENTS,
      writers: 8,
      aggregates: 100,
      writerPauseMs: 40,
    });
    const relay = spawnRelay(scenario.database.name);
    let kafkaDown = false;
    try {
      await relay.active();
      let writersDone = false;
      const writing = scenario.write().then(() => {
        writersDone = true;
      });

      await waitFor(
        "a third of the events written",
        () => scenario.written.length >= EVENTS / 3,
        60_000,
        20,
      );
      kafkaDown = true;
      await kafka("stop");
      const atStop = scenario.written.length;
      await sleep(10_000);
      const beforeStart = scenario.written.length;
      const doneBeforeRestart = writersDone;
      await kafka("start");
      kafkaDown = false;
      await writing;

      assert.ok(
        beforeStart - atStop > 500,
        `writers committed ${beforeStart - atStop} events during the outage`,
      );
      assert.equal(doneBeforeRestart, false, "the writers were still writing when Kafka came back");
      await expectEveryEventDelivered(scenario, EVENTS, 150_000);
      console.log(
        `kafka outage: ${beforeStart - atStop} events committed while Kafka was down; ` +
          `${scenario.deliveries() - EVENTS} duplicate deliveries absorbed by the inbox`,
      );
    } finally {
      if (kafkaDown) await kafka("start").catch(() => {});
      await relay.kill("SIGTERM");
      await scenario.cleanup();
    }
    // The consumer lived through the broker restart; once stopped it must hold no connection,
    // or this process would never exit.
    await waitFor("no connection to Kafka left open", () => kafkaSocketsOpen() === 0, 2_000);
  });
});
