import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { assertEveryEventOnceInOrder } from "./fixtures/outbox/e2e-assertions.ts";
import { createScenario } from "./fixtures/outbox/e2e-harness.ts";
import { spawnRelay } from "./fixtures/outbox/relay-child.ts";
import { waitFor } from "./fixtures/outbox/support.ts";

const EVENTS = 10_000;

describe("outbox relay crash", { timeout: 240_000 }, () => {
  test("a relay SIGKILLed after a third of the events is replaced and every event still arrives once, in order", async () => {
    const scenario = await createScenario({ events: EVENTS, writers: 8, aggregates: 100 });
    let relay = spawnRelay(scenario.database.name);
    try {
      await relay.active();
      let writersDone = false;
      const writing = scenario.write().then(() => {
        writersDone = true;
      });

      await waitFor(
        "a third of the events published",
        async () => (await scenario.publishedCount()) >= EVENTS / 3,
        60_000,
        10,
      );
      await relay.kill("SIGKILL");
      const atKill = { writersDone, written: scenario.written.length };
      relay = spawnRelay(scenario.database.name);
      await relay.active();
      await writing;

      assert.equal(
        atKill.writersDone,
        false,
        "the relay died while the writers were still writing",
      );
      await waitFor(
        "every event applied",
        async () => (await scenario.appliedCount()) >= EVENTS,
        90_000,
      );
      await waitFor(
        "every row marked published",
        async () => (await scenario.publishedCount()) === EVENTS,
        10_000,
      );
      assertEveryEventOnceInOrder(
        scenario.written,
        scenario.rolledBack,
        await scenario.applied(),
        EVENTS,
      );
      console.log(
        `relay crash: killed with ${atKill.written} of ${EVENTS} events written; ` +
          `${scenario.deliveries() - EVENTS} duplicate Kafka deliveries absorbed by the inbox`,
      );
    } finally {
      await relay.kill("SIGTERM");
      await scenario.cleanup();
    }
  });
});
