import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { ProductCreatedSchema } from "@shopmesh/gen/shopmesh/events/v1/catalog_events_pb.js";
import { EventEnvelopeSchema } from "@shopmesh/gen/shopmesh/events/v1/envelope_pb.js";
import { dropDatabase } from "@shopmesh/platform/db";
import { unpackPayload } from "@shopmesh/platform/event-envelope";
import { openCatalogDb } from "../src/database.ts";
import { generateDemoCatalog } from "../src/demo/demo-catalog.ts";
import { seedCatalog } from "../src/demo/seed-catalog.ts";
import type { Db } from "../src/store.ts";

const name = `shopmesh_catalog_seed_test_${process.pid}_${randomBytes(4).toString("hex")}`;
let db: Db;
before(async () => {
  db = (await openCatalogDb(name, { role: "postgres", poolSize: 4 })).db;
});
after(async () => {
  await db.destroy();
  await dropDatabase(name);
});

describe("demo catalog", () => {
  it("is generated deterministically: same ids, slugs and SKUs every time", () => {
    const a = generateDemoCatalog();
    const b = generateDemoCatalog();
    assert.equal(a.products.length, 300);
    assert.equal(a.categories.length, 20);
    assert.deepEqual(
      a.products.map((p) => [
        p.product.id,
        p.product.slug,
        p.variants.map((v) => [v.id, v.sku, v.initialOnHand]),
      ]),
      b.products.map((p) => [
        p.product.id,
        p.product.slug,
        p.variants.map((v) => [v.id, v.sku, v.initialOnHand]),
      ]),
    );
    const skus = a.products.flatMap((p) => p.variants.map((v) => v.sku));
    assert.equal(new Set(skus).size, skus.length, "SKUs are unique");
    assert.ok(skus.length > 600, `${skus.length} variants`);
  });

  it("loads once with product.created events carrying initial stock; a second load changes nothing", {
    timeout: 50_000,
  }, async () => {
    const first = await seedCatalog(db);
    assert.deepEqual(first, { created: 300, updated: 0, categories: 20 });
    const events = await db.selectFrom("outbox").select(["event_type", "envelope"]).execute();
    const created = events.filter((e) => e.event_type === "product.created");
    assert.equal(created.length, 300);
    const payload = unpackPayload(
      fromBinary(EventEnvelopeSchema, created[0]!.envelope),
      ProductCreatedSchema,
    );
    const demo = generateDemoCatalog().products.find((p) => p.product.id === payload.product?.id)!;
    for (const v of demo.variants) {
      assert.equal(payload.initialOnHand[v.id] ?? 0, v.initialOnHand, v.sku);
    }

    const second = await seedCatalog(db);
    assert.deepEqual(second, { created: 0, updated: 0, categories: 0 });
    const after = await db.selectFrom("outbox").select("id").execute();
    assert.equal(after.length, events.length, "a repeated load publishes nothing");
  });
});
