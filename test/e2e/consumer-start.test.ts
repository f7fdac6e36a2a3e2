/**
 * Where a service's new Kafka consumer group starts reading, as KAFKA_FROM_BEGINNING says: from
 * the start of its topics (the default, so a newly deployed service misses nothing) or from
 * their end (what a test's throwaway group on the shared topics wants). Shown on inventory, run
 * as its own process, whose product.created handler leaves a stock row to look for.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { ProductCreatedSchema } from "@shopmesh/gen/shopmesh/events/v1/catalog_events_pb.js";
import { encodeEvent } from "@shopmesh/platform/event-envelope";
import { createKafka, ensureTopics } from "@shopmesh/platform/kafka";
import { createLogger } from "@shopmesh/platform/logger";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import type { Producer } from "kafkajs";
import pg from "pg";
import {
  dropTestDatabase,
  type ServiceProcess,
  startServiceProcess,
  waitFor,
} from "./support/service-process.ts";

const logger = createLogger("consumer-start-test", "silent");
const kafka = createKafka({
  clientId: "consumer-start-test",
  brokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092",
  logger,
});
let producer: Producer;
const procs: ServiceProcess[] = [];
/** One connection to each process's database, for the polls below. */
const pools = new Map<ServiceProcess, pg.Pool>();

before(async () => {
  await ensureTopics(kafka, [{ topic: "products", numPartitions: 6 }], { logger });
  producer = kafka.producer();
  await producer.connect();
});
after(async () => {
  await producer.disconnect();
  await Promise.all([...pools.values()].map((pool) => pool.end()));
  await Promise.all(procs.map((p) => p.kill()));
  await Promise.all(procs.map((p) => dropTestDatabase(p.dbName)));
});

/**
 * Publishes a product.created whose one variant starts with `onHand` units; returns its id. Each
 * is keyed by `partitionKey`, so they land on one partition and are read in publishing order.
 */
async function publishProduct(onHand: number, partitionKey: string): Promise<string> {
  const productId = uuidv7();
  const variantId = uuidv7();
  const event = encodeEvent({
    topic: "products",
    aggregateType: "product",
    aggregateId: productId,
    eventType: "product.created",
    producer: "consumer-start-test",
    payloadSchema: ProductCreatedSchema,
    payload: create(ProductCreatedSchema, {
      product: { id: productId, name: "Desk lamp", variants: [{ id: variantId, sku: variantId }] },
      initialOnHand: { [variantId]: onHand },
    }),
  });
  await producer.send({
    topic: "products",
    messages: [{ key: partitionKey, value: Buffer.from(event.envelope) }],
  });
  return variantId;
}

/** The on-hand count of `variantId` in `proc`'s database, or undefined without a stock row. */
async function onHand(proc: ServiceProcess, variantId: string): Promise<number | undefined> {
  let pool = pools.get(proc);
  if (!pool) {
    pool = new pg.Pool({ database: proc.dbName, max: 1 });
    pools.set(proc, pool);
  }
  const { rows } = await pool.query<{ on_hand: number }>(
    "select on_hand from stock where variant_id = $1",
    [variantId],
  );
  return rows[0]?.on_hand;
}

describe("a new consumer group starts where KAFKA_FROM_BEGINNING says", () => {
  it("from the start by default, from the end with false", async () => {
    const partitionKey = uuidv7();
    const earlier = await publishProduct(7, partitionKey);
    const [fromStart, fromEnd] = await Promise.all([
      startServiceProcess("inventory", { KAFKA_FROM_BEGINNING: "" }),
      startServiceProcess("inventory", { KAFKA_FROM_BEGINNING: "false" }),
    ]);
    procs.push(fromStart!, fromEnd!);

    await waitFor(
      "the default group to apply the product published before it started",
      async () => ((await onHand(fromStart!, earlier)) === 7 ? true : undefined),
      60_000,
    );
    // The other group's "end" is where the topic stands at its first fetch, a moment after the
    // process says it is listening: later products go out until it applies one. They share the
    // earlier one's partition, read in order, so by then it has read as far back as it will.
    const later: string[] = [];
    await waitFor(
      "the group started at the end to apply a product published after it started",
      async () => {
        for (const variant of later) if ((await onHand(fromEnd!, variant)) === 3) return true;
        later.push(await publishProduct(3, partitionKey));
        return undefined;
      },
      60_000,
    );
    assert.equal(await onHand(fromEnd!, earlier), undefined);
  });
});
