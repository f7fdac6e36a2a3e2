import { create, type DescMessage } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ViewSource } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import {
  ProductCreatedSchema,
  ProductDeletedSchema,
  ProductUpdatedSchema,
  ProductViewedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/catalog_events_pb.js";
import {
  ReviewCreatedSchema,
  ReviewDeletedSchema,
  ReviewUpdatedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/review_events_pb.js";
import { type NewEvent, unpackPayload } from "@shopmesh/platform/event-envelope";
import { handleOnce } from "@shopmesh/platform/inbox";
import type { ConsumedEvent } from "@shopmesh/platform/kafka-consumer";
import type { ProductRecord, VariantRecord } from "./domain/product.ts";
import { productMessage } from "./proto-mapping.ts";
import type { Db, Trx } from "./store.ts";

/** The topic of product lifecycle events. */
export const PRODUCTS_TOPIC = "products";
/** The high-volume topic of product views. */
export const PRODUCT_VIEWS_TOPIC = "product-views";
/** Topics the catalog consumes. */
export const CONSUMED_TOPICS = ["reviews"] as const;
/** This service's consumer group and inbox consumer name. */
export const CONSUMER_GROUP = "catalog-service";

function event<D extends DescMessage>(
  topic: string,
  productId: string,
  eventType: string,
  payloadSchema: D,
  payload: NewEvent<D>["payload"],
): NewEvent {
  return {
    topic,
    aggregateType: "product",
    aggregateId: productId,
    eventType,
    producer: "catalog",
    payloadSchema,
    payload,
  } as NewEvent;
}

/** product.created with the whole product, every variant, and optional initial stock counts. */
export function productCreated(
  p: ProductRecord,
  variants: readonly VariantRecord[],
  initialOnHand: Record<string, number> = {},
): NewEvent {
  return event(
    PRODUCTS_TOPIC,
    p.id,
    "product.created",
    ProductCreatedSchema,
    create(ProductCreatedSchema, { product: productMessage(p, variants), initialOnHand }),
  );
}

/** product.updated with the whole product after the change and the top-level fields changed. */
export function productUpdated(
  p: ProductRecord,
  variants: readonly VariantRecord[],
  changedFields: string[],
): NewEvent {
  return event(
    PRODUCTS_TOPIC,
    p.id,
    "product.updated",
    ProductUpdatedSchema,
    create(ProductUpdatedSchema, { product: productMessage(p, variants), changedFields }),
  );
}

/** product.deleted naming every variant removed with it. */
export function productDeleted(p: ProductRecord, variantIds: string[], deletedAt: Date): NewEvent {
  return event(
    PRODUCTS_TOPIC,
    p.id,
    "product.deleted",
    ProductDeletedSchema,
    create(ProductDeletedSchema, {
      productId: p.id,
      slug: p.slug,
      variantIds,
      deletedAt: timestampFromDate(deletedAt),
    }),
  );
}

/** product.viewed, carrying brand and categories so consumers need not look them up. */
export function productViewed(
  p: ProductRecord,
  view: { variantId: string; userId: string; sessionId: string; source: ViewSource },
  viewedAt: Date,
): NewEvent {
  return event(
    PRODUCT_VIEWS_TOPIC,
    p.id,
    "product.viewed",
    ProductViewedSchema,
    create(ProductViewedSchema, {
      productId: p.id,
      ...view,
      categoryIds: p.categoryIds,
      brand: p.brand,
      viewedAt: timestampFromDate(viewedAt),
    }),
  );
}

/** What the review consumer needs: a way to store a product's rating summary. */
export interface ConsumerDeps {
  db: Db;
  applyRating(trx: Trx, productId: string, average: number, count: number): Promise<unknown>;
}

/**
 * The catalog's event handler: review.created / updated / deleted carry the product's rating
 * summary after the change, which overwrites the product's rating (so replays are harmless),
 * once per event id through the inbox.
 */
export function createEventHandler(deps: ConsumerDeps): (e: ConsumedEvent) => Promise<void> {
  const summaryOf = (e: ConsumedEvent) => {
    switch (e.envelope.eventType) {
      case "review.created":
        return unpackPayload(e.envelope, ReviewCreatedSchema).productRating;
      case "review.updated":
        return unpackPayload(e.envelope, ReviewUpdatedSchema).productRating;
      case "review.deleted":
        return unpackPayload(e.envelope, ReviewDeletedSchema).productRating;
      default:
        return undefined;
    }
  };
  return async (e) => {
    const summary = summaryOf(e);
    if (!summary?.productId) return;
    await handleOnce(deps.db, CONSUMER_GROUP, e.envelope.eventId, (trx) =>
      deps.applyRating(trx, summary.productId, summary.averageRating, Number(summary.reviewCount)),
    );
  };
}
