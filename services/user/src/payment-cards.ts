import { PaymentService } from "@shopmesh/gen/shopmesh/payment/v1/payment_pb.js";
import { Code, RpcError } from "@shopmesh/platform/errors";
import { type Client, createClient } from "@shopmesh/platform/grpc-client";
import type { CardDirectory } from "./handlers/deps.ts";

/**
 * Asks the payment service what a card token stands for (PaymentService.DescribeCardToken), so
 * saved cards show the gateway's brand and last four rather than whatever a client claims.
 * NOT_FOUND means an unknown token; UNAVAILABLE and other failures pass through to the caller.
 */
export function paymentServiceCards(client: Client<typeof PaymentService> | string): CardDirectory {
  const payment = typeof client === "string" ? createClient(PaymentService, client) : client;
  return {
    async describe(token, signal) {
      try {
        const response = await payment.describeCardToken({ token }, signal ? { signal } : {});
        return response.card;
      } catch (err) {
        if (err instanceof RpcError && err.code === Code.NOT_FOUND) return undefined;
        throw err;
      }
    },
  };
}
