import {
  type DescField,
  type DescMethod,
  type DescService,
  type Message,
  ScalarType,
} from "@bufbuild/protobuf";
import { hasRole, ROLE_ADMIN } from "@shopmesh/platform/auth";
import { PermissionDeniedError, UnauthenticatedError } from "@shopmesh/platform/errors";
import type { Principal } from "@shopmesh/platform/handler-context";
import { httpRuleOf } from "./http-rules.ts";

/**
 * Who may call an RPC through the edge:
 * - `public`: anyone; a token, when sent, is still verified and forwarded.
 * - `user`: a valid access token.
 * - `admin`: a valid access token with the admin role.
 */
export type Access = "public" | "user" | "admin";

/** The edge's verdict on one public RPC. */
export interface MethodPolicy {
  access: Access;
  /**
   * The request's top-level `user_id`, when it has one and the RPC is not admin-only: a non-empty
   * value must be the caller's own subject unless the caller is an admin.
   */
  ownerField: DescField | undefined;
}

// ---------------------------------------------------------------------------------------------
// The policy. Most of it comes from the annotations (rules 1 and 2); the two lists below carry
// what the protos state only in comments ("Public.", "Admin only."). The services check again;
// the edge refuses early so anonymous and cross-user traffic never reaches them.
//
//   1. A binding under /api/v1/admin/                       -> admin
//   2. A binding under /api/v1/auth/ or /.well-known/       -> public
//   3. Listed in PUBLIC_RPCS                                -> public
//   4. Listed in ADMIN_RPCS                                 -> admin
//   5. Anything else with an http annotation                -> user
//   6. Not annotated                                        -> internal, never routed
// Then, for every non-admin RPC whose request has a top-level string `user_id`: a non-empty
// value must equal the token's subject, or the caller must be an admin (else 403; 401 without
// a token).
// ---------------------------------------------------------------------------------------------

const ADMIN_PREFIX = "/api/v1/admin/";
const PUBLIC_PREFIXES = ["/api/v1/auth/", "/.well-known/"];

/** RPCs anyone may call (catalog and review reads, search, quotes, public tracking). */
export const PUBLIC_RPCS: ReadonlySet<string> = new Set([
  "shopmesh.catalog.v1.CatalogService.ListProducts",
  "shopmesh.catalog.v1.CatalogService.GetProduct",
  "shopmesh.catalog.v1.CatalogService.GetProductBySlug",
  "shopmesh.catalog.v1.CatalogService.GetVariant",
  "shopmesh.catalog.v1.CatalogService.ListCategories",
  "shopmesh.catalog.v1.CatalogService.GetCategory",
  "shopmesh.catalog.v1.CatalogService.RecordProductView",
  "shopmesh.inventory.v1.InventoryService.CheckStock",
  "shopmesh.search.v1.SearchService.Search",
  "shopmesh.search.v1.SearchService.Suggest",
  "shopmesh.recommendation.v1.RecommendationService.SimilarProducts",
  "shopmesh.recommendation.v1.RecommendationService.FrequentlyBoughtTogether",
  "shopmesh.recommendation.v1.RecommendationService.Trending",
  "shopmesh.review.v1.ReviewService.ListProductReviews",
  "shopmesh.review.v1.ReviewService.GetReview",
  "shopmesh.review.v1.ReviewService.GetProductRatingSummary",
  "shopmesh.shipping.v1.ShippingService.Quote",
  "shopmesh.shipping.v1.ShippingService.Track",
]);

/** Admin-only RPCs whose paths are not under /api/v1/admin/ (catalog writes, stock control). */
export const ADMIN_RPCS: ReadonlySet<string> = new Set([
  "shopmesh.catalog.v1.CatalogService.CreateProduct",
  "shopmesh.catalog.v1.CatalogService.UpdateProduct",
  "shopmesh.catalog.v1.CatalogService.DeleteProduct",
  "shopmesh.catalog.v1.CatalogService.AddVariant",
  "shopmesh.catalog.v1.CatalogService.UpdateVariant",
  "shopmesh.catalog.v1.CatalogService.DeleteVariant",
  "shopmesh.catalog.v1.CatalogService.CreateCategory",
  "shopmesh.inventory.v1.InventoryService.GetStock",
  "shopmesh.inventory.v1.InventoryService.AdjustStock",
  "shopmesh.inventory.v1.InventoryService.SetLowStockThreshold",
  "shopmesh.inventory.v1.InventoryService.ListAdjustments",
  "shopmesh.inventory.v1.InventoryService.GetReservation",
  "shopmesh.inventory.v1.InventoryService.ListReservationsForOrder",
]);

/** `package.Service.Method`, the key of the lists above. */
export function methodKey(method: DescMethod): string {
  return `${method.parent.typeName}.${method.name}`;
}

/** The policy of one annotated RPC, or undefined for an internal one. */
export function policyOf(method: DescMethod): MethodPolicy | undefined {
  const rule = httpRuleOf(method);
  if (!rule) return undefined;
  const paths = [rule, ...rule.additionalBindings].map((r) =>
    r.pattern.case === "custom" ? r.pattern.value.path : String(r.pattern.value ?? ""),
  );
  const key = methodKey(method);
  let access: Access = "user";
  if (paths.some((p) => p.startsWith(ADMIN_PREFIX)) || ADMIN_RPCS.has(key)) access = "admin";
  else if (paths.some((p) => PUBLIC_PREFIXES.some((prefix) => p.startsWith(prefix)))) {
    access = "public";
  } else if (PUBLIC_RPCS.has(key)) access = "public";
  const userId = method.input.fields.find((f) => f.name === "user_id");
  const ownerField =
    access !== "admin" && userId?.fieldKind === "scalar" && userId.scalar === ScalarType.STRING
      ? userId
      : undefined;
  return { access, ownerField };
}

/** Every annotated RPC of `services` with its policy, keyed by `package.Service.Method`. */
export function policiesOf(services: readonly DescService[]): Map<string, MethodPolicy> {
  const policies = new Map<string, MethodPolicy>();
  for (const service of services) {
    for (const method of service.methods) {
      const policy = policyOf(method);
      if (policy) policies.set(methodKey(method), policy);
    }
  }
  return policies;
}

/**
 * The access half of the policy, checked before the request is even parsed (so anonymous
 * callers learn nothing from validation errors): UNAUTHENTICATED when a token is needed and
 * missing, PERMISSION_DENIED when an admin RPC is called without the admin role.
 */
export function requireAccess(policy: MethodPolicy, principal: Principal | undefined): void {
  if (policy.access !== "public" && !principal) {
    throw new UnauthenticatedError(
      "this route needs a signed-in user: send Authorization: Bearer <access token>",
    );
  }
  if (policy.access === "admin" && !hasRole(principal, ROLE_ADMIN)) {
    throw new PermissionDeniedError("this route needs the admin role");
  }
}

/**
 * The ownership half: a non-empty `user_id` in the request (path, query or body) must be the
 * caller's own subject unless the caller is an admin.
 */
export function requireOwner(
  policy: MethodPolicy,
  principal: Principal | undefined,
  request: Message,
): void {
  if (!policy.ownerField) return;
  const userId = (request as unknown as Record<string, unknown>)[policy.ownerField.localName];
  if (typeof userId !== "string" || userId === "") return;
  if (!principal) {
    throw new UnauthenticatedError(`user_id ${userId} is set, so an access token is required`);
  }
  if (principal.subject !== userId && !hasRole(principal, ROLE_ADMIN)) {
    throw new PermissionDeniedError(`caller may not act on user ${userId}'s resources`);
  }
}
