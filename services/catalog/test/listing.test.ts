import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { type Product, ProductSort } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { ReviewCreatedSchema } from "@shopmesh/gen/shopmesh/events/v1/review_events_pb.js";
import { Code, type ServiceError } from "@shopmesh/platform/errors";
import { decodeEnvelope, encodeEvent } from "@shopmesh/platform/event-envelope";
import { type CatalogHarness, startCatalog } from "./harness.ts";

let h: CatalogHarness;
const ids: Record<string, string> = {};

before(async () => {
  h = await startCatalog();
  const root = await h.products.createCategory({
    name: "Electronics",
    slug: "electronics",
    parentId: null,
    description: "",
  });
  const laptops = await h.products.createCategory({
    name: "Laptops",
    slug: "laptops",
    parentId: root.id,
    description: "",
  });
  const books = await h.products.createCategory({
    name: "Books",
    slug: "books",
    parentId: null,
    description: "",
  });
  Object.assign(ids, { root: root.id, laptops: laptops.id, books: books.id });
  for (let i = 0; i < 30; i++) {
    const category = [laptops.id, root.id, books.id][i % 3]!;
    const { product } = await h.products.createProduct(
      {
        name: `${["alpha", "Bravo", "charlie"][i % 3]} item ${String(i).padStart(2, "0")}`,
        slug: `item-${i}`,
        description: "",
        brand: ["Acme", "Globex", "Initech"][i % 3]!,
        categoryIds: [category],
        tags: i % 2 === 0 ? ["even", "sale"] : ["odd"],
        specifications: [],
        attributes: {},
        images: [],
        active: i !== 29,
      },
      [
        {
          sku: `SKU-${i}`,
          attributes: {},
          price: { currencyCode: "USD", amountMinor: BigInt(1000 + (i % 7) * 500) },
          compareAtPrice: undefined,
          weightGrams: 100,
          images: [],
          active: true,
        },
      ],
    );
    ids[`p${i}`] = product.id;
    // Ties on purpose: several products share a rating, so only the id keeps the order total.
    await h.db
      .transaction()
      .execute((trx) => h.products.applyRating(trx, product.id, (i % 4) + 1, i % 5));
  }
});
after(() => h.close());

async function everything(
  sort: ProductSort,
  pageSize: number,
  extra: object = {},
): Promise<Product[]> {
  const all: Product[] = [];
  let pageToken = "";
  for (let n = 0; n < 100; n++) {
    const res = await h.client.listProducts({ sort, page: { pageSize, pageToken }, ...extra });
    all.push(...res.products);
    pageToken = res.page?.nextPageToken ?? "";
    if (!pageToken) return all;
  }
  assert.fail("listing did not end");
}

describe("ListProducts", () => {
  it("pages through every sort without repeating or skipping a product", async () => {
    const full = await everything(ProductSort.NEWEST, 100);
    assert.equal(full.length, 29, "the inactive product is hidden");
    for (const sort of [
      ProductSort.UNSPECIFIED,
      ProductSort.NEWEST,
      ProductSort.PRICE_ASC,
      ProductSort.PRICE_DESC,
      ProductSort.RATING,
      ProductSort.NAME,
    ]) {
      const paged = await everything(sort, 4);
      const one = await everything(sort, 100);
      assert.deepEqual(
        paged.map((p) => p.id),
        one.map((p) => p.id),
        `sort ${sort}`,
      );
      assert.equal(new Set(paged.map((p) => p.id)).size, 29, `sort ${sort}`);
    }
  });

  it("orders by price, rating and name as documented", async () => {
    const price = (p: Product) => Number(p.priceRange?.min?.amountMinor);
    const asc = (await everything(ProductSort.PRICE_ASC, 100)).map(price);
    assert.deepEqual(
      asc,
      [...asc].sort((a, b) => a - b),
    );
    const desc = (await everything(ProductSort.PRICE_DESC, 100)).map(price);
    assert.deepEqual(
      desc,
      [...desc].sort((a, b) => b - a),
    );
    const ratings = (await everything(ProductSort.RATING, 100)).map((p) => p.rating?.average ?? 0);
    assert.deepEqual(
      ratings,
      [...ratings].sort((a, b) => b - a),
    );
    const names = (await everything(ProductSort.NAME, 100)).map((p) => p.name.toLowerCase());
    assert.deepEqual(names, [...names].sort());
  });

  it("filters by category with descendants, brand, tags and price", async () => {
    const electronics = await everything(ProductSort.NEWEST, 100, { categoryId: ids.root });
    assert.equal(electronics.length, 20);
    const laptops = await everything(ProductSort.NEWEST, 100, { categoryId: ids.laptops });
    assert.equal(laptops.length, 10);
    const globex = await everything(ProductSort.NEWEST, 100, { brands: ["Globex"] });
    assert.ok(globex.length === 10 && globex.every((p) => p.brand === "Globex"));
    const sale = await everything(ProductSort.NEWEST, 100, { tags: ["even", "sale"] });
    assert.ok(sale.length === 15 && sale.every((p) => p.tags.includes("sale")));
    const mid = await everything(ProductSort.NEWEST, 100, {
      minPrice: { currencyCode: "USD", amountMinor: 2000n },
      maxPrice: { currencyCode: "USD", amountMinor: 3000n },
    });
    assert.ok(mid.length > 0);
    assert.ok(
      mid.every(
        (p) =>
          (p.priceRange?.min?.amountMinor ?? 0n) >= 2000n &&
          (p.priceRange?.min?.amountMinor ?? 0n) <= 3000n,
      ),
    );
    const res = await h.client.listProducts({ brands: ["Acme"], page: { pageSize: 2 } });
    assert.equal(res.page?.totalSize, 10n);
  });

  it("lets admins list inactive products, never customers", async () => {
    const asCustomer = await h.client.listProducts(
      { active: false, page: { pageSize: 100 } },
      { metadata: h.customer },
    );
    assert.ok(asCustomer.products.every((p) => p.active));
    const asAdmin = await h.client.listProducts(
      { active: false, page: { pageSize: 100 } },
      { metadata: h.admin },
    );
    assert.deepEqual(
      asAdmin.products.map((p) => p.id),
      [ids.p29],
    );
  });

  it("refuses a page token from another query with INVALID_ARGUMENT on page.page_token", async () => {
    const first = await h.client.listProducts({ sort: ProductSort.NAME, page: { pageSize: 2 } });
    const err = await h.client
      .listProducts({
        sort: ProductSort.PRICE_ASC,
        page: { pageSize: 2, pageToken: first.page?.nextPageToken ?? "" },
      })
      .then(
        () => assert.fail("expected INVALID_ARGUMENT"),
        (e: ServiceError) => e,
      );
    assert.equal(err.code, Code.INVALID_ARGUMENT);
    assert.equal(err.violations[0]?.field, "page.page_token");
  });

  it("takes the rating from review events once per event", async () => {
    const productId = ids.p0!;
    const e = encodeEvent({
      topic: "reviews",
      aggregateType: "product",
      aggregateId: productId,
      eventType: "review.created",
      producer: "test",
      payloadSchema: ReviewCreatedSchema,
      payload: create(ReviewCreatedSchema, {
        productId,
        rating: 5,
        productRating: { productId, averageRating: 4.5, reviewCount: 12n },
      }),
    });
    const consumed = {
      envelope: decodeEnvelope(e.envelope),
      topic: "reviews",
      partition: 0,
      offset: "0",
      key: productId,
      headers: {},
    };
    await h.handleEvent(consumed);
    await h.handleEvent(consumed);
    const { product } = await h.client.getProduct({ productId });
    assert.deepEqual([product?.rating?.average, product?.rating?.count], [4.5, 12n]);
    const ratingEvents = await h.db
      .selectFrom("outbox")
      .select("id")
      .where("aggregate_id", "=", productId)
      .where("event_type", "=", "product.updated")
      .execute();
    assert.equal(ratingEvents.length, 2, "one from the setup rating, one from the review");
  });
});
