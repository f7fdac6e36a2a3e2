import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AdjustmentReason,
  Availability,
} from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { Code, type ServiceError } from "@shopmesh/platform/errors";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { type InventoryHarness, startInventory } from "./harness.ts";

let h: InventoryHarness;
before(async () => {
  h = await startInventory();
});
after(() => h.close());

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  return promise.then(
    () => assert.fail("expected the call to fail"),
    (err: ServiceError) => err,
  );
}

async function eventsFor(aggregateId: string): Promise<string[]> {
  const rows = await h.db
    .selectFrom("outbox")
    .select("event_type")
    .where("aggregate_id", "=", aggregateId)
    .orderBy("id")
    .execute();
  return rows.map((r) => r.event_type);
}

describe("AdjustStock", () => {
  it("records who changed what, applies each idempotency key once, and lists the trail", async () => {
    const variantId = uuidv7();
    const first = await h.client.adjustStock(
      {
        variantId,
        change: { case: "setOnHand", value: 40 },
        reason: AdjustmentReason.INITIAL,
        idempotencyKey: `k-${variantId}-1`,
      },
      { metadata: h.admin },
    );
    assert.equal(first.stock?.onHand, 40);
    assert.equal(first.adjustment?.onHandBefore, 0);
    assert.equal(first.adjustment?.delta, 40);
    assert.equal(first.adjustment?.actorUserId, "0190a000-0000-7000-8000-00000000a001");

    const restock = {
      variantId,
      change: { case: "delta" as const, value: -15 },
      reason: AdjustmentReason.DAMAGE,
      note: "water",
      idempotencyKey: `k-${variantId}-2`,
    };
    const second = await h.client.adjustStock(restock, { metadata: h.admin });
    const retry = await h.client.adjustStock(restock, { metadata: h.admin });
    assert.equal(retry.adjustment?.id, second.adjustment?.id);
    assert.equal(retry.stock?.onHand, 25);
    assert.deepEqual(
      [second.adjustment?.onHandBefore, second.adjustment?.onHandAfter, second.adjustment?.note],
      [40, 25, "water"],
    );

    const page1 = await h.client.listAdjustments(
      { variantId, page: { pageSize: 1 } },
      { metadata: h.admin },
    );
    assert.equal(page1.adjustments[0]?.id, second.adjustment?.id);
    assert.notEqual(page1.page?.nextPageToken, "");
    const page2 = await h.client.listAdjustments(
      { variantId, page: { pageSize: 1, pageToken: page1.page?.nextPageToken ?? "" } },
      { metadata: h.admin },
    );
    assert.equal(page2.adjustments[0]?.id, first.adjustment?.id);
    assert.equal(page2.page?.nextPageToken, "");
    const damage = await h.client.listAdjustments(
      { variantId, reason: AdjustmentReason.DAMAGE },
      { metadata: h.admin },
    );
    assert.deepEqual(
      damage.adjustments.map((a) => a.id),
      [second.adjustment?.id],
    );
  });

  it("refuses to take away units that orders hold", async () => {
    const variantId = uuidv7();
    await h.client.adjustStock(
      {
        variantId,
        change: { case: "setOnHand", value: 5 },
        reason: AdjustmentReason.INITIAL,
        idempotencyKey: `k-${variantId}-1`,
      },
      { metadata: h.admin },
    );
    await h.client.reserveStock({ orderId: uuidv7(), lines: [{ variantId, quantity: 4 }] });
    const err = await failure(
      h.client.adjustStock(
        {
          variantId,
          change: { case: "delta", value: -2 },
          reason: AdjustmentReason.RECOUNT,
          idempotencyKey: `k-${variantId}-2`,
        },
        { metadata: h.admin },
      ),
    );
    assert.equal(err.code, Code.FAILED_PRECONDITION);
    assert.equal((await h.client.getStock({ variantId }, { metadata: h.admin })).stock?.onHand, 5);
  });

  it("publishes back_in_stock, low_stock and out_of_stock once per crossing", async () => {
    const variantId = uuidv7();
    const adjust = (value: number, n: number) =>
      h.client.adjustStock(
        {
          variantId,
          change: { case: "setOnHand", value },
          reason: AdjustmentReason.RECOUNT,
          idempotencyKey: `k-${variantId}-${n}`,
        },
        { metadata: h.admin },
      );
    await adjust(20, 1);
    await adjust(4, 2);
    await adjust(3, 3);
    await adjust(0, 4);
    assert.deepEqual(await eventsFor(variantId), [
      "inventory.back_in_stock",
      "inventory.low_stock",
      "inventory.out_of_stock",
    ]);
  });

  it("is admin only: customers get PERMISSION_DENIED, anonymous callers UNAUTHENTICATED", async () => {
    const req = {
      variantId: uuidv7(),
      change: { case: "delta" as const, value: 1 },
      reason: AdjustmentReason.RESTOCK,
      idempotencyKey: "k-denied-1",
    };
    assert.equal(
      (await failure(h.client.adjustStock(req, { metadata: h.customer }))).code,
      Code.PERMISSION_DENIED,
    );
    assert.equal((await failure(h.client.adjustStock(req))).code, Code.UNAUTHENTICATED);
    assert.equal(
      (await failure(h.client.listAdjustments({}, { metadata: h.customer }))).code,
      Code.PERMISSION_DENIED,
    );
  });

  it("answers INVALID_ARGUMENT naming the field, and NOT_FOUND for unknown variants", async () => {
    const err = await failure(
      h.client.adjustStock(
        {
          variantId: uuidv7(),
          change: { case: "delta", value: 0 },
          reason: AdjustmentReason.UNSPECIFIED,
          idempotencyKey: "short",
        },
        { metadata: h.admin },
      ),
    );
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    const fields = err.violations.map((v) => v.field).sort();
    assert.deepEqual(fields, ["delta", "idempotency_key", "reason"]);
    const bad = await failure(
      h.client.listAdjustments({ page: { pageToken: "garbage" } }, { metadata: h.admin }),
    );
    assert.equal(bad.code, Code.INVALID_ARGUMENT);
    assert.equal(bad.violations[0]?.field, "page.page_token");
    assert.equal(
      (await failure(h.client.getStock({ variantId: uuidv7() }, { metadata: h.admin }))).code,
      Code.NOT_FOUND,
    );
    assert.equal(
      (await failure(h.client.getReservation({ reservationId: uuidv7() }, { metadata: h.admin })))
        .code,
      Code.NOT_FOUND,
    );
    assert.equal(
      (
        await failure(
          h.client.setLowStockThreshold(
            { variantId: uuidv7(), threshold: 3 },
            { metadata: h.admin },
          ),
        )
      ).code,
      Code.NOT_FOUND,
    );
  });
});

describe("CheckStock and BatchGetStock", () => {
  it("judge each line and list unknown variants as missing", async () => {
    const variantId = uuidv7();
    await h.client.adjustStock(
      {
        variantId,
        change: { case: "setOnHand", value: 8 },
        reason: AdjustmentReason.INITIAL,
        idempotencyKey: `k-${variantId}-1`,
      },
      { metadata: h.admin },
    );
    const unknown = uuidv7();
    const check = await h.client.checkStock({
      lines: [
        { variantId, quantity: 2 },
        { variantId: unknown, quantity: 1 },
      ],
    });
    assert.deepEqual(
      check.results.map((r) => [r.availability, r.available]),
      [
        [Availability.IN_STOCK, 8],
        [Availability.UNKNOWN_VARIANT, 0],
      ],
    );
    assert.equal(check.allAvailable, false);
    assert.equal(
      (await h.client.checkStock({ lines: [{ variantId, quantity: 4 }] })).results[0]?.availability,
      Availability.LOW_STOCK,
    );
    assert.equal(
      (await h.client.checkStock({ lines: [{ variantId, quantity: 9 }] })).results[0]?.availability,
      Availability.INSUFFICIENT,
    );
    const batch = await h.client.batchGetStock({ variantIds: [unknown, variantId] });
    assert.deepEqual(
      batch.stock.map((s) => s.variantId),
      [variantId],
    );
    assert.deepEqual(batch.missingVariantIds, [unknown]);
  });
});
