import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { sql } from "kysely";
import { listStalePendingPayments, stalePendingPaymentsQuery } from "../src/store.ts";
import { type PaymentHarness, startPaymentHarness } from "./support/payment-harness.ts";

/** The reconciler's lookup of abandoned charges: what it finds, and that an index serves it. */
describe("stale PENDING payments", { timeout: 30_000 }, () => {
  let h: PaymentHarness;
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

  before(async () => {
    h = await startPaymentHarness();
    const row = (status: "PENDING" | "SUCCEEDED" | "FAILED", updatedAt: Date) => {
      const id = uuidv7();
      return {
        id,
        order_id: uuidv7(),
        user_id: uuidv7(),
        currency_code: "USD",
        amount_minor: "1000",
        status,
        payment_token: "tok_test",
        description: "",
        gateway_reference: "",
        refunded_minor: "0",
        idempotency_key: `key-${id}`,
        request_hash: "h",
        created_at: updatedAt,
        updated_at: updatedAt,
      };
    };
    // Many settled payments around a few pending ones, as in a shop that has run a while.
    const settled = Array.from({ length: 2000 }, (_, i) => row("SUCCEEDED", minutesAgo(10 + i)));
    await h.app.deps.db.insertInto("payments").values(settled).execute();
    await h.app.deps.db
      .insertInto("payments")
      .values([
        { ...row("PENDING", minutesAgo(5)), description: "old" },
        { ...row("PENDING", minutesAgo(9)), description: "older" },
        { ...row("PENDING", minutesAgo(0)), description: "fresh" },
        { ...row("FAILED", minutesAgo(30)), description: "failed" },
      ])
      .execute();
    await sql`ANALYZE payments`.execute(h.app.deps.db);
  });

  after(() => h?.stop());

  test("finds the PENDING payments older than the cut-off, oldest first", async () => {
    const found = await listStalePendingPayments(h.app.deps.db, minutesAgo(1), 20);
    assert.deepEqual(
      found.map((p) => p.description),
      ["older", "old"],
    );
  });

  test("is answered from the partial index, not by reading every payment", async () => {
    const plan = await stalePendingPaymentsQuery(h.app.deps.db, minutesAgo(1), 20).explain();
    const text = plan.map((r) => String(r["QUERY PLAN"])).join("\n");
    assert.match(text, /Index Scan using payments_pending_idx/, text);
    assert.doesNotMatch(text, /Seq Scan|Sort/, text);
  });
});
