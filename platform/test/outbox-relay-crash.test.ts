import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { expectEveryEventDelivered } from "./fixtures/outbox/e2e-assertions.ts";
import { createScenario } from "./fixtures/outbox/e2e-harness.ts";
import { spawnRelay } from "./fixtures/outbox/relay-child.ts";
import { waitFor } from "./fixtures/outbox/support.ts";

const EVENTS = 10_000;
/** Rows left "sent but not marked" by the crash, which the next relay sends again. */
const RESENT = 200;

describe("outbox relay crash", { timeout: 240_000 }, () => {
  test("a relay SIGKILLed after a third of the events, its last rows sent but unmarked, is replaced and every event still applies once, in order", async () => {
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
      // The kill may or may not land between a send and its mark. Make sure the worst case
      // happened: the last rows are in Kafka but not marked, as such a crash leaves them.
      await sql`
        UPDATE outbox SET published_at = NULL WHERE id IN (
          SELECT id FROM outbox WHERE published_at IS NOT NULL ORDER BY id DESC LIMIT ${RESENT})
      `.execute(scenario.database.db);
      relay = spawnRelay(scenario.database.name);
      await relay.active();
      await writing;

      assert.equal(
        atKill.writersDone,
        false,
        "the relay died while the writers were still writing",
      );
      await expectEveryEventDelivered(scenario, EVENTS, 90_000);
      const duplicates = scenario.deliveries() - EVENTS;
      assert.ok(
        duplicates >= RESENT,
        `the re-sent rows reached the consumer again (${duplicates})`,
      );
      console.log(
        `relay crash: killed with ${atKill.written} of ${EVENTS} events written; ` +
          `${duplicates} duplicate Kafka deliveries absorbed by the inbox`,
      );
    } finally {
      await relay.kill("SIGTERM");
      await scenario.cleanup();
    }
  });
});
