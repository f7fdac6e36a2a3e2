import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { expectEveryEventDelivered } from "./fixtures/outbox/e2e-assertions.ts";
import { createScenario } from "./fixtures/outbox/e2e-harness.ts";
import { spawnRelay } from "./fixtures/outbox/relay-child.ts";

const EVENTS = 10_000;

describe("transactional outbox end to end", { timeout: 180_000 }, () => {
  test("8 concurrent writers on 100 aggregates: a consumer applies all 10,000 events once, each aggregate in write order", async () => {
    const scenario = await createScenario({ events: EVENTS, writers: 8, aggregates: 100 });
    const relay = spawnRelay(scenario.database.name);
    try {
      await relay.active();
      const started = Date.now();
      await scenario.write();
      const wroteMs = Date.now() - started;
      await expectEveryEventDelivered(scenario, EVENTS, 90_000);
      const doneMs = Date.now() - started;
      assert.ok(scenario.rolledBack.size > 0, "some transactions rolled back their events");
      console.log(
        `outbox e2e: ${EVENTS} events written in ${wroteMs} ms, all applied after ${doneMs} ms; ` +
          `${scenario.deliveries()} Kafka deliveries, ${scenario.rolledBack.size} rolled-back events`,
      );
    } finally {
      await relay.kill("SIGTERM");
      await scenario.cleanup();
    }
  });
});
