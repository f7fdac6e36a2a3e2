import type { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import { createAccountHandlers } from "./handlers/account-handlers.ts";
import { createAddressHandlers } from "./handlers/address-handlers.ts";
import { createAdminHandlers } from "./handlers/admin-handlers.ts";
import type { UserDeps } from "./handlers/deps.ts";
import { createPaymentMethodHandlers } from "./handlers/payment-method-handlers.ts";
import { createRecoveryHandlers } from "./handlers/recovery-handlers.ts";
import { createSignInHandlers } from "./handlers/sign-in-handlers.ts";
import { createWishlistHandlers } from "./handlers/wishlist-handlers.ts";

export type { CardDirectory, UserDeps } from "./handlers/deps.ts";

/**
 * The UserService implementation: one handler per RPC, grouped by concern in `handlers/`. Every
 * group is thin (authorization, proto <-> domain, store calls in a transaction, events).
 */
export function createUserHandlers(deps: UserDeps): ServiceImpl<typeof UserService> {
  return {
    ...createSignInHandlers(deps),
    ...createRecoveryHandlers(deps),
    ...createAccountHandlers(deps),
    ...createAddressHandlers(deps),
    ...createPaymentMethodHandlers(deps),
    ...createWishlistHandlers(deps),
    ...createAdminHandlers(deps),
  };
}
