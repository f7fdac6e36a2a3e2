import type { CatalogService, Product } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { hasRole, ROLE_ADMIN, requireAdmin, requireSelfOrAdmin } from "@shopmesh/platform/auth";
import { InvalidArgumentError, NotFoundError } from "@shopmesh/platform/errors";
import type { HandlerContext, ServiceImpl } from "@shopmesh/platform/handler-context";
import { appendToOutbox } from "@shopmesh/platform/outbox";
import { decodePageToken, encodePageToken, filterFingerprint } from "./domain/listing.ts";
import type { ProductField, ProductRecord, VariantField, VariantRecord } from "./domain/product.ts";
import { productViewed } from "./events.ts";
import { listProducts, type ProductFilters } from "./list-products.ts";
import type { ProductCommands } from "./products.ts";
import {
  categoryMessage,
  imageOf,
  productMessage,
  sortName,
  variantDetailMessage,
  variantMessage,
  variantPatch,
} from "./proto-mapping.ts";
import * as store from "./store.ts";

/** What the handlers need; built once in main.ts. */
export interface HandlerDeps {
  db: store.Db;
  products: ProductCommands;
}

const DEFAULT_PAGE_SIZE = 20;

const isAdmin = (ctx: HandlerContext) => hasRole(ctx.principal, ROLE_ADMIN);

/** Customers see active products with their active variants; admins see everything. */
function visible(ctx: HandlerContext, product: ProductRecord, variants: VariantRecord[]) {
  if (isAdmin(ctx)) return productMessage(product, variants);
  return productMessage(
    product,
    variants.filter((v) => v.active),
  );
}

function productFields(p: Product | undefined): ProductRecord {
  return {
    id: "",
    name: p?.name ?? "",
    slug: p?.slug ?? "",
    description: p?.description ?? "",
    brand: p?.brand ?? "",
    categoryIds: [...(p?.categoryIds ?? [])],
    tags: [...(p?.tags ?? [])],
    specifications: (p?.specifications ?? []).map((s) => ({ name: s.name, value: s.value })),
    attributes: { ...(p?.attributes ?? {}) },
    images: (p?.images ?? []).map(imageOf),
    active: p?.active ?? false,
    ratingAverage: 0,
    ratingCount: 0,
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };
}

/**
 * The CatalogService implementation: proto in, query or command, proto out. Reads hide inactive
 * products and variants from everyone but admins; writes need the admin role.
 */
export function createCatalogHandlers(deps: HandlerDeps): ServiceImpl<typeof CatalogService> {
  const { db, products } = deps;

  async function withVariants(
    ctx: HandlerContext,
    product: ProductRecord | undefined,
    what: string,
  ) {
    if (!product || (!product.active && !isAdmin(ctx)))
      throw new NotFoundError(`product ${what} not found`);
    const variants = (await store.getVariantsOf(db, [product.id])).get(product.id) ?? [];
    return visible(ctx, product, variants);
  }

  return {
    async listProducts(req, ctx) {
      const filters: ProductFilters = {
        ...(req.categoryId ? { categoryId: req.categoryId } : {}),
        ...(req.brands.length ? { brands: [...req.brands].sort() } : {}),
        ...(req.tags.length ? { tags: [...req.tags].sort() } : {}),
        // Customers only ever get active products, whatever they ask for.
        ...(isAdmin(ctx)
          ? req.active === undefined
            ? {}
            : { active: req.active }
          : { active: true }),
      };
      const priced = req.minPrice ?? req.maxPrice;
      if (priced) {
        filters.price = {
          currencyCode: priced.currencyCode,
          ...(req.minPrice ? { min: req.minPrice.amountMinor } : {}),
          ...(req.maxPrice ? { max: req.maxPrice.amountMinor } : {}),
        };
      }
      const sort = sortName(req.sort);
      const fingerprint = filterFingerprint({
        ...filters,
        price: filters.price && {
          ...filters.price,
          min: String(filters.price.min),
          max: String(filters.price.max),
        },
      });
      const after = decodePageToken(req.page?.pageToken ?? "", sort, fingerprint);
      const limit = req.page?.pageSize || DEFAULT_PAGE_SIZE;
      const page = await listProducts(db, filters, sort, limit, after);
      const variants = await store.getVariantsOf(
        db,
        page.products.map((p) => p.id),
      );
      return {
        products: page.products.map((p) => visible(ctx, p, variants.get(p.id) ?? [])),
        page: {
          nextPageToken: page.next ? encodePageToken(sort, fingerprint, page.next) : "",
          totalSize: BigInt(page.total),
        },
      };
    },

    async getProduct(req, ctx) {
      const [product] = await store.getProducts(db, [req.productId]);
      return { product: await withVariants(ctx, product, req.productId) };
    },

    async getProductBySlug(req, ctx) {
      return {
        product: await withVariants(ctx, await store.getProductBySlug(db, req.slug), req.slug),
      };
    },

    async batchGetProducts(req) {
      const found = new Map((await store.getProducts(db, req.productIds)).map((p) => [p.id, p]));
      const wanted = req.productIds.filter((id) => {
        const p = found.get(id);
        return p && (p.active || req.includeInactive);
      });
      const variants = await store.getVariantsOf(db, wanted);
      return {
        products: wanted.map((id) => productMessage(found.get(id)!, variants.get(id) ?? [])),
        missingProductIds: req.productIds.filter((id) => !wanted.includes(id)),
      };
    },

    async createProduct(req, ctx) {
      requireAdmin(ctx);
      const {
        id: _id,
        ratingAverage: _a,
        ratingCount: _c,
        createdAt: _t,
        updatedAt: _u,
        ...fields
      } = productFields(req.product);
      const variants = (req.product?.variants ?? []).map((v) => {
        const patch = variantPatch(v);
        return { ...patch, price: patch.price! };
      });
      const created = await products.createProduct(fields, variants);
      return { product: productMessage(created.product, created.variants) };
    },

    async updateProduct(req, ctx) {
      requireAdmin(ctx);
      const paths = (req.updateMask?.paths ?? []) as ProductField[];
      const updated = await products.updateProduct(
        req.productId,
        productFields(req.product),
        paths,
      );
      return { product: productMessage(updated.product, updated.variants) };
    },

    async deleteProduct(req, ctx) {
      requireAdmin(ctx);
      await products.deleteProduct(req.productId);
      return {};
    },

    async addVariant(req, ctx) {
      requireAdmin(ctx);
      const patch = variantPatch(req.variant!);
      return {
        variant: variantMessage(
          await products.addVariant(req.productId, { ...patch, price: patch.price! }),
        ),
      };
    },

    async updateVariant(req, ctx) {
      requireAdmin(ctx);
      const paths = (req.updateMask?.paths ?? []) as VariantField[];
      const variant = await products.updateVariant(
        req.productId,
        req.variantId,
        variantPatch(req.variant!),
        paths,
      );
      return { variant: variantMessage(variant) };
    },

    async deleteVariant(req, ctx) {
      requireAdmin(ctx);
      await products.deleteVariant(req.productId, req.variantId);
      return {};
    },

    async getVariant(req, ctx) {
      const found = (await store.getVariantsWithProducts(db, [req.variantId])).get(req.variantId);
      if (!found || (!isAdmin(ctx) && !(found.product.active && found.variant.active))) {
        throw new NotFoundError(`variant ${req.variantId} not found`);
      }
      return { variant: variantDetailMessage(found.variant, found.product) };
    },

    async batchGetVariants(req) {
      const found = await store.getVariantsWithProducts(db, req.variantIds);
      return {
        variants: req.variantIds.flatMap((id) => {
          const f = found.get(id);
          return f ? [variantDetailMessage(f.variant, f.product)] : [];
        }),
        missingVariantIds: req.variantIds.filter((id) => !found.has(id)),
      };
    },

    async listCategories(req) {
      const limit = req.page?.pageSize || 100;
      const token = req.page?.pageToken ?? "";
      let after: { name: string; id: string } | undefined;
      if (token) {
        try {
          after = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
            name: string;
            id: string;
          };
        } catch {
          after = undefined;
        }
        if (typeof after?.name !== "string" || !/^[0-9a-f-]{36}$/.test(String(after.id))) {
          throw new InvalidArgumentError("page.page_token", "is not a token this list returned");
        }
      }
      const rows = await store.listCategories(db, {
        ...(req.parentId ? { parentId: req.parentId } : {}),
        ...(after ? { after } : {}),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const next =
        rows.length > limit && last
          ? Buffer.from(JSON.stringify({ name: last.name, id: last.id })).toString("base64url")
          : "";
      return { categories: page.map(categoryMessage), page: { nextPageToken: next } };
    },

    async getCategory(req) {
      const category = await store.getCategory(db, req.categoryId);
      if (!category) throw new NotFoundError(`category ${req.categoryId} not found`);
      return { category: categoryMessage(category) };
    },

    async createCategory(req, ctx) {
      requireAdmin(ctx);
      const c = req.category!;
      const category = await products.createCategory({
        name: c.name,
        slug: c.slug,
        parentId: c.parentId || null,
        description: c.description,
      });
      return { category: categoryMessage(category) };
    },

    async recordProductView(req, ctx) {
      if (req.userId) requireSelfOrAdmin(ctx, req.userId);
      const [product] = await store.getProducts(db, [req.productId]);
      if (!product || (!product.active && !isAdmin(ctx)))
        throw new NotFoundError(`product ${req.productId} not found`);
      const view = {
        variantId: req.variantId,
        userId: req.userId,
        sessionId: req.sessionId,
        source: req.source,
      };
      await db
        .transaction()
        .execute((trx) => appendToOutbox(trx, productViewed(product, view, new Date())));
      return {};
    },
  };
}
