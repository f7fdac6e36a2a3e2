/**
 * `npm run demo:seed -w services/catalog`: loads the generated demo catalog into the catalog
 * database through the catalog's own commands, so every new product publishes product.created
 * (via the outbox; the running catalog service's relay sends it). Initial stock travels as the
 * event's initial_on_hand hint: inventory starts each variant at that count with an INITIAL
 * adjustment, so the seed needs neither an admin token nor inventory to be up.
 *
 * Idempotent: categories are matched by slug, products by slug and variants by SKU; what exists
 * is updated only where it differs (and then publishes product.updated), so a second run changes
 * nothing and publishes nothing.
 */
import { createLogger } from "@shopmesh/platform/logger";
import { loadCatalogConfig } from "../config.ts";
import { openCatalogDb } from "../database.ts";
import { PRODUCT_FIELDS } from "../domain/product.ts";
import { createProductCommands } from "../products.ts";
import * as store from "../store.ts";
import { generateDemoCatalog } from "./demo-catalog.ts";

/** Loads the demo catalog into `db`; returns how many products it created and updated. */
export async function seedCatalog(
  db: store.Db,
): Promise<{ created: number; updated: number; categories: number }> {
  const commands = createProductCommands({ db });
  const { categories, products } = generateDemoCatalog();
  const categoryIds = new Map<string, string>();
  let newCategories = 0;
  for (const c of categories) {
    const existing = await store.getCategoryBySlug(db, c.slug);
    if (existing) {
      categoryIds.set(c.id, existing.id);
      continue;
    }
    const parentId = c.parent
      ? (categoryIds.get(categories.find((p) => p.slug === c.parent)!.id) ?? null)
      : null;
    const made = await commands.createCategory({
      id: c.id,
      name: c.name,
      slug: c.slug,
      parentId,
      description: c.description,
    });
    categoryIds.set(c.id, made.id);
    newCategories++;
  }
  let created = 0;
  let updated = 0;
  for (const { product, variants } of products) {
    const fields = {
      ...product,
      categoryIds: product.categoryIds.map((id) => categoryIds.get(id) ?? id),
    };
    const existing = await store.getProductBySlug(db, product.slug);
    if (!existing) {
      await commands.createProduct(fields, variants);
      created++;
      continue;
    }
    const before = existing.updatedAt.getTime();
    const full = { ...existing, ...fields, id: existing.id, createdAt: existing.createdAt };
    const result = await commands.updateProduct(existing.id, full, PRODUCT_FIELDS);
    const current = (await store.getVariantsOf(db, [existing.id])).get(existing.id) ?? [];
    for (const v of variants) {
      const match = current.find((c) => c.sku === v.sku);
      if (!match) await commands.addVariant(existing.id, v);
      else {
        await commands.updateVariant(existing.id, match.id, v, [
          "attributes",
          "price",
          "compare_at_price",
          "weight_grams",
          "active",
        ]);
      }
    }
    const after = (await store.getProducts(db, [existing.id]))[0]?.updatedAt.getTime();
    if (result.product.updatedAt.getTime() !== before || after !== before) updated++;
  }
  return { created, updated, categories: newCategories };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadCatalogConfig();
  const logger = createLogger("catalog-seed");
  const { db } = await openCatalogDb(config.dbName, { logger, poolSize: 4 });
  try {
    const started = performance.now();
    const result = await seedCatalog(db);
    logger.info(
      { ...result, ms: Math.round(performance.now() - started) },
      "demo catalog loaded; the catalog service's outbox relay publishes the product events",
    );
  } finally {
    await db.destroy();
  }
}
