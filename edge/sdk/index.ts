/**
 * The shopmesh partner SDK: typed Connect clients of every public service, over the edge's
 * Connect or gRPC-Web protocol, for browsers and Node (it uses `fetch`). Messages and service
 * descriptors come from `@shopmesh/gen`; only RPCs with an HTTP annotation are served by the
 * edge, internal ones answer `not_found`.
 *
 * ```ts
 * const shop = createShopmeshClient({ baseUrl: "http://localhost:8080" });
 * const { products } = await shop.catalog.listProducts({ page: { pageSize: 10 } });
 * ```
 */
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
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

export { Code, ConnectError } from "@connectrpc/connect";

/** Options of {@link createShopmeshClient}. */
export interface ShopmeshClientOptions {
  /** The edge's URL, e.g. `https://api.shop.example` or `http://localhost:8080`. */
  baseUrl: string;
  /**
   * The access token sent as `Authorization: Bearer <token>`, or a function returning the
   * current one (so a refreshed token is picked up); none for anonymous calls.
   */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** `connect` (default; JSON, curl-friendly) or `grpc-web` (binary, compact). */
  protocol?: "connect" | "grpc-web";
  /** Sends binary protobuf instead of JSON on the Connect protocol. */
  useBinaryFormat?: boolean;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof globalThis.fetch;
}

/** Typed clients of every public shopmesh service. */
export interface ShopmeshClient {
  user: Client<typeof UserService>;
  catalog: Client<typeof CatalogService>;
  inventory: Client<typeof InventoryService>;
  cart: Client<typeof CartService>;
  order: Client<typeof OrderService>;
  payment: Client<typeof PaymentService>;
  shipping: Client<typeof ShippingService>;
  notification: Client<typeof NotificationService>;
  search: Client<typeof SearchService>;
  review: Client<typeof ReviewService>;
  recommendation: Client<typeof RecommendationService>;
  analytics: Client<typeof AnalyticsService>;
  /** The transport, for clients of services created by hand (`createClient(Service, transport)`). */
  transport: Transport;
}

/** Creates the SDK's clients, all sharing one transport to the edge. */
export function createShopmeshClient(options: ShopmeshClientOptions): ShopmeshClient {
  const auth: Interceptor = (next) => async (req) => {
    const token = typeof options.token === "function" ? await options.token() : options.token;
    if (token) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  const common = {
    baseUrl: options.baseUrl,
    interceptors: [auth],
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  const transport =
    options.protocol === "grpc-web"
      ? createGrpcWebTransport(common)
      : createConnectTransport({ ...common, useBinaryFormat: options.useBinaryFormat ?? false });
  const client = <S extends DescService>(service: S) => createClient(service, transport);
  return {
    user: client(UserService),
    catalog: client(CatalogService),
    inventory: client(InventoryService),
    cart: client(CartService),
    order: client(OrderService),
    payment: client(PaymentService),
    shipping: client(ShippingService),
    notification: client(NotificationService),
    search: client(SearchService),
    review: client(ReviewService),
    recommendation: client(RecommendationService),
    analytics: client(AnalyticsService),
    transport,
  };
}
