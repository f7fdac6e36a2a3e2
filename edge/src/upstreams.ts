import type { DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { AnalyticsService } from "@shopmesh/gen/shopmesh/analytics/v1/analytics_pb.js";
import { CartService } from "@shopmesh/gen/shopmesh/cart/v1/cart_pb.js";
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shopmesh/gen/shopmesh/inventory/v1/inventory_pb.js";
import { NotificationService } from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { OrderService } from "@shopmesh/gen/shopmesh/order/v1/order_pb.js";
import { PaymentService } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { RecommendationService } from "@shopmesh/gen/shopmesh/recommendation/v1/recommendation_pb.js";
import { ReviewService } from "@shopmesh/gen/shopmesh/review/v1/review_pb.js";
import { SearchService } from "@shopmesh/gen/shopmesh/search/v1/search_pb.js";
import { ShippingService } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { type CallOptions, type ClientOptions, createClient } from "@shopmesh/platform/grpc-client";

/** A domain service the edge exposes: its short name (`catalog`), contract and address. */
export interface UpstreamSpec {
  name: string;
  service: DescService;
  /** `host:port` of the service's gRPC endpoint. */
  address: string;
}

/**
 * Every domain service whose annotated RPCs the edge serves, with the environment variable of
 * its address and its default port (services/README.md's runtime contract).
 */
export const UPSTREAM_SERVICES = [
  { name: "user", service: UserService, env: "USER_ADDR", port: 50051 },
  { name: "catalog", service: CatalogService, env: "CATALOG_ADDR", port: 50052 },
  { name: "inventory", service: InventoryService, env: "INVENTORY_ADDR", port: 50053 },
  { name: "cart", service: CartService, env: "CART_ADDR", port: 50054 },
  { name: "order", service: OrderService, env: "ORDER_ADDR", port: 50055 },
  { name: "payment", service: PaymentService, env: "PAYMENT_ADDR", port: 50056 },
  { name: "shipping", service: ShippingService, env: "SHIPPING_ADDR", port: 50057 },
  { name: "notification", service: NotificationService, env: "NOTIFICATION_ADDR", port: 50058 },
  { name: "search", service: SearchService, env: "SEARCH_ADDR", port: 50059 },
  { name: "review", service: ReviewService, env: "REVIEW_ADDR", port: 50060 },
  {
    name: "recommendation",
    service: RecommendationService,
    env: "RECOMMENDATION_ADDR",
    port: 50061,
  },
  { name: "analytics", service: AnalyticsService, env: "ANALYTICS_ADDR", port: 50062 },
] as const;

/** Calls one RPC of an upstream service with a request message already built and validated. */
export type UpstreamCall = (request: Message, options: CallOptions) => Promise<Message>;

/** The gRPC clients of every upstream, one call function per RPC. */
export interface Upstreams {
  readonly specs: readonly UpstreamSpec[];
  /** The call function of `method`; undefined if its service is not an upstream. */
  callOf(method: DescMethod): UpstreamCall | undefined;
  /** The upstream serving `method`'s service. */
  specOf(method: DescMethod): UpstreamSpec | undefined;
}

/**
 * Creates platform clients (deadline, read retries, one breaker per method) for `specs`, so a
 * down service fails fast with UNAVAILABLE instead of holding browser requests.
 */
export function createUpstreams(specs: readonly UpstreamSpec[], options: ClientOptions): Upstreams {
  const calls = new Map<string, UpstreamCall>();
  const byService = new Map<string, UpstreamSpec>();
  for (const spec of specs) {
    byService.set(spec.service.typeName, spec);
    const client = createClient(spec.service, spec.address, options) as unknown as Record<
      string,
      UpstreamCall
    >;
    for (const method of spec.service.methods) {
      const call = client[method.localName];
      if (call) calls.set(`${spec.service.typeName}/${method.name}`, call);
    }
  }
  return {
    specs,
    callOf: (method) => calls.get(`${method.parent.typeName}/${method.name}`),
    specOf: (method) => byService.get(method.parent.typeName),
  };
}
