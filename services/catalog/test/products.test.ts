import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ViewSource } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { Code, type ServiceError } from "@shopmesh/platform/errors";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import { type CatalogHarness, CUSTOMER_ID, startCatalog } from "./harness.ts";

let h: CatalogHarness;
before(async () => {
  h = await startCatalog();
});
after(() => h.close());

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  return promise.then(
    () => assert.fail("expected the call to fail"),
    (err: ServiceError) => err,
  );
}

const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });

function newProduct(slug: string, active = true) {
  return {
    name: `Product ${slug}`,
    slug,
    brand: "Acme",
    tags: ["gaming"],
    active,
    specifications: [{ name: "Processor", value: "Fast" }],
    attributes: { material: "aluminium" },
    variants: [
      {
        sku: `${slug}-S`,
        price: usd(1999n),
        attributes: { size: "S" },
        active: true,
        weightGrams: 300,
      },
      {
        sku: `${slug}-L`,
        price: usd(2499n),
        compareAtPrice: usd(2999n),
        attributes: { size: "L" },
        active: true,
      },
    ],
  };
}

async function outboxTypes(productId: string): Promise<string[]> {
  const rows = await h.db
    .selectFrom("outbox")
    .select("event_type")
    .where("aggregate_id", "=", productId)
    .orderBy("id")
    .execute();
  return rows.map((r) => r.event_type);
}

describe("catalog products", () => {
  it("creates, reads by id and slug, updates by mask and deletes, publishing product events", async () => {
    const { product } = await h.client.createProduct(
      { product: newProduct("desk-lamp") },
      { metadata: h.admin },
    );
    assert.ok(product?.id);
    assert.equal(product.variants.length, 2);
    assert.equal(product.priceRange?.min?.amountMinor, 1999n);
    assert.equal(product.priceRange?.max?.amountMinor, 2499n);

    const bySlug = await h.client.getProductBySlug({ slug: "desk-lamp" });
    assert.equal(bySlug.product?.id, product.id);
    assert.deepEqual(
      bySlug.product?.specifications.map((s) => s.value),
      ["Fast"],
    );

    const updated = await h.client.updateProduct(
      {
        productId: product.id,
        product: { name: "Desk lamp XL", brand: "ignored" },
        updateMask: { paths: ["name"] },
      },
      { metadata: h.admin },
    );
    assert.equal(updated.product?.name, "Desk lamp XL");
    assert.equal(updated.product?.brand, "Acme");

    await h.client.deleteProduct({ productId: product.id }, { metadata: h.admin });
    await h.client.deleteProduct({ productId: product.id }, { metadata: h.admin });
    assert.equal(
      (await failure(h.client.getProduct({ productId: product.id }))).code,
      Code.NOT_FOUND,
    );
    assert.deepEqual(await outboxTypes(product.id), [
      "product.created",
      "product.updated",
      "product.deleted",
    ]);
    // The slug is free again.
    await h.client.createProduct({ product: newProduct("desk-lamp") }, { metadata: h.admin });
  });

  it("refuses taken slugs and SKUs with ALREADY_EXISTS", async () => {
    await h.client.createProduct({ product: newProduct("kettle") }, { metadata: h.admin });
    assert.equal(
      (
        await failure(
          h.client.createProduct({ product: newProduct("kettle") }, { metadata: h.admin }),
        )
      ).code,
      Code.ALREADY_EXISTS,
    );
    const other = { ...newProduct("kettle-two"), variants: [{ sku: "kettle-S", price: usd(1n) }] };
    assert.equal(
      (await failure(h.client.createProduct({ product: other }, { metadata: h.admin }))).code,
      Code.ALREADY_EXISTS,
    );
  });

  it("manages variants: add, update price, refuse another currency and deleting the last one", async () => {
    const { product } = await h.client.createProduct(
      {
        product: {
          ...newProduct("mug"),
          variants: [{ sku: "mug-1", price: usd(500n), active: true }],
        },
      },
      { metadata: h.admin },
    );
    const id = product!.id;
    const { variant } = await h.client.addVariant(
      { productId: id, variant: { sku: "mug-2", price: usd(700n), active: true } },
      { metadata: h.admin },
    );
    const changed = await h.client.updateVariant(
      {
        productId: id,
        variantId: variant!.id,
        variant: { price: usd(650n) },
        updateMask: { paths: ["price"] },
      },
      { metadata: h.admin },
    );
    assert.equal(changed.variant?.price?.amountMinor, 650n);
    const eur = await failure(
      h.client.addVariant(
        {
          productId: id,
          variant: { sku: "mug-3", price: { currencyCode: "EUR", amountMinor: 1n } },
        },
        { metadata: h.admin },
      ),
    );
    assert.equal(eur.code, Code.FAILED_PRECONDITION);
    const detail = await h.client.batchGetVariants({ variantIds: [variant!.id, uuidv7()] });
    assert.equal(detail.variants[0]?.product?.name, "Product mug");
    assert.equal(detail.variants[0]?.purchasable, true);
    assert.equal(detail.missingVariantIds.length, 1);
    await h.client.deleteVariant({ productId: id, variantId: variant!.id }, { metadata: h.admin });
    const last = product!.variants[0]!.id;
    assert.equal(
      (
        await failure(
          h.client.deleteVariant({ productId: id, variantId: last }, { metadata: h.admin }),
        )
      ).code,
      Code.FAILED_PRECONDITION,
    );
    const after = await h.client.getProduct({ productId: id });
    assert.equal(after.product?.priceRange?.max?.amountMinor, 500n);
  });

  it("hides inactive products from customers but not from admins", async () => {
    const { product } = await h.client.createProduct(
      { product: newProduct("secret-launch", false) },
      { metadata: h.admin },
    );
    assert.equal(
      (await failure(h.client.getProduct({ productId: product!.id }, { metadata: h.customer })))
        .code,
      Code.NOT_FOUND,
    );
    assert.equal(
      (await h.client.getProduct({ productId: product!.id }, { metadata: h.admin })).product
        ?.active,
      false,
    );
    const batch = await h.client.batchGetProducts({ productIds: [product!.id] });
    assert.deepEqual(batch.missingProductIds, [product!.id]);
    const withInactive = await h.client.batchGetProducts({
      productIds: [product!.id],
      includeInactive: true,
    });
    assert.equal(withInactive.products.length, 1);
  });

  it("refuses admin RPCs to customers and anonymous callers", async () => {
    assert.equal(
      (
        await failure(
          h.client.createProduct({ product: newProduct("nope") }, { metadata: h.customer }),
        )
      ).code,
      Code.PERMISSION_DENIED,
    );
    assert.equal(
      (await failure(h.client.createProduct({ product: newProduct("nope") }))).code,
      Code.UNAUTHENTICATED,
    );
    assert.equal(
      (await failure(h.client.deleteProduct({ productId: uuidv7() }, { metadata: h.customer })))
        .code,
      Code.PERMISSION_DENIED,
    );
    assert.equal(
      (
        await failure(
          h.client.createCategory({ category: { name: "X", slug: "x" } }, { metadata: h.customer }),
        )
      ).code,
      Code.PERMISSION_DENIED,
    );
  });

  it("answers INVALID_ARGUMENT naming the field, and NOT_FOUND for unknown ids", async () => {
    const bad = await failure(
      h.client.createProduct({ product: { name: "X", slug: "Not A Slug" } }, { metadata: h.admin }),
    );
    assert.equal(bad.code, Code.INVALID_ARGUMENT);
    assert.ok(
      bad.violations.some((v) => v.field === "product.slug"),
      JSON.stringify(bad.violations),
    );
    const badId = await failure(h.client.getProduct({ productId: "42" }));
    assert.equal(badId.code, Code.INVALID_ARGUMENT);
    assert.equal(badId.violations[0]?.field, "product_id");
    assert.equal(
      (await failure(h.client.getProduct({ productId: uuidv7() }))).code,
      Code.NOT_FOUND,
    );
    assert.equal(
      (await failure(h.client.getVariant({ variantId: uuidv7() }))).code,
      Code.NOT_FOUND,
    );
    assert.equal(
      (await failure(h.client.getCategory({ categoryId: uuidv7() }))).code,
      Code.NOT_FOUND,
    );
    assert.equal(
      (
        await failure(
          h.client.updateProduct(
            { productId: uuidv7(), product: { name: "x" } },
            { metadata: h.admin },
          ),
        )
      ).code,
      Code.NOT_FOUND,
    );
  });

  it("records product views for the caller only, as product.viewed", async () => {
    const { product } = await h.client.createProduct(
      { product: newProduct("viewed-thing") },
      { metadata: h.admin },
    );
    await h.client.recordProductView(
      {
        productId: product!.id,
        sessionId: "s-1",
        userId: CUSTOMER_ID,
        source: ViewSource.PRODUCT_PAGE,
      },
      { metadata: h.customer },
    );
    await h.client.recordProductView({ productId: product!.id, sessionId: "s-2" });
    const other = await failure(
      h.client.recordProductView(
        { productId: product!.id, sessionId: "s-3", userId: uuidv7() },
        { metadata: h.customer },
      ),
    );
    assert.equal(other.code, Code.PERMISSION_DENIED);
    const views = await h.db
      .selectFrom("outbox")
      .select("topic")
      .where("aggregate_id", "=", product!.id)
      .where("event_type", "=", "product.viewed")
      .execute();
    assert.deepEqual(
      views.map((v) => v.topic),
      ["product-views", "product-views"],
    );
  });
});
