/**
 * A catalog-contract gRPC server for the edge benchmark: the platform server (validation,
 * metrics, error mapping, like the real service) answering GetProduct from memory. Prints its
 * port on stdout; stops on SIGTERM.
 */
import { CatalogService } from "@shopmesh/gen/shopmesh/catalog/v1/catalog_pb.js";
import { Code, NotFoundError, ServiceError } from "@shopmesh/platform/errors";
import { createGrpcServer } from "@shopmesh/platform/grpc-server";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { createLogger } from "@shopmesh/platform/logger";

/** The product the benchmark reads. */
export const BENCH_PRODUCT_ID = "0190c5d2-7a3e-7b1c-9f00-000000000001";

const product = {
  id: BENCH_PRODUCT_ID,
  name: "Trail Shoe",
  slug: "trail-shoe",
  description: "A light trail running shoe with a grippy outsole.",
  brand: "Acme",
  active: true,
  tags: ["running", "trail"],
  variants: [
    {
      id: "0190c5d2-7a3e-7b1c-9f00-0000000000a1",
      productId: BENCH_PRODUCT_ID,
      sku: "TS-42",
      price: { currencyCode: "EUR", amountMinor: 12999n },
      attributes: { size: "42", colour: "blue" },
      weightGrams: 640,
    },
  ],
};

const impl: Record<string, unknown> = {};
for (const method of CatalogService.methods) {
  impl[method.localName] = () => {
    throw new ServiceError(Code.UNIMPLEMENTED, `${method.name} is not part of the benchmark`);
  };
}
impl.getProduct = (req: { productId: string }) => {
  if (req.productId !== BENCH_PRODUCT_ID)
    throw new NotFoundError(`product ${req.productId} not found`);
  return { product };
};

const server = createGrpcServer({ logger: createLogger("bench-catalog", "silent") });
server.addService(CatalogService, impl as ServiceImpl<typeof CatalogService>);
const port = await server.listen("127.0.0.1:0");
process.stdout.write(`${port}\n`);
process.on("SIGTERM", () => {
  void server.drain(1_000).then(() => process.exit(0));
});
