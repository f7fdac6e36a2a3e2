import type { DescMethod, DescService, Message } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  Code as ConnectCode,
  ConnectError,
  type ConnectRouter,
  createContextKey,
  type HandlerContext,
} from "@connectrpc/connect";
import { RpcError, ServiceError } from "@shopmesh/platform/errors";
import { STATUS_DETAILS_KEY } from "@shopmesh/platform/status-details";
import { type MethodPolicy, methodKey, requireAccess, requireOwner } from "./access-policy.ts";
import { type Caller, callUpstream } from "./caller.ts";
import type { Upstreams } from "./upstreams.ts";

/** Context key under which the HTTP layer hands the identified {@link Caller} to Connect. */
export const CALLER = createContextKey<Caller | undefined>(undefined, {
  description: "the edge caller",
});

/** What the Connect routes need. */
export interface ConnectRoutesDeps {
  services: readonly DescService[];
  policies: ReadonlyMap<string, MethodPolicy>;
  upstreams: Upstreams;
  /** Deadline toward the services when the client sent none (ms). */
  upstreamTimeoutMs: number;
}

/**
 * Registers a proxy for every public (annotated) unary RPC, and for nothing else, so internal
 * RPCs such as ReserveStock or Charge are unreachable through Connect and gRPC-Web. Each proxy
 * applies the same access policy as REST, then calls the service over gRPC with the caller's
 * token, and turns the service's status into a ConnectError that keeps its code and field
 * violations.
 */
export function connectRoutes(deps: ConnectRoutesDeps): (router: ConnectRouter) => void {
  return (router) => {
    for (const service of deps.services) {
      for (const method of service.methods) {
        const policy = deps.policies.get(methodKey(method));
        if (!policy || method.methodKind !== "unary") continue;
        router.rpc(method, proxy(method, policy, deps) as never);
      }
    }
  };
}

function proxy(method: DescMethod, policy: MethodPolicy, deps: ConnectRoutesDeps) {
  return async (request: Message, ctx: HandlerContext): Promise<Message> => {
    const caller = ctx.values.get(CALLER);
    if (!caller) throw new ConnectError("caller not identified", ConnectCode.Internal);
    try {
      if (caller.authError) throw caller.authError;
      requireAccess(policy, caller.principal);
      requireOwner(policy, caller.principal, request);
      const timeoutMs = Math.min(ctx.timeoutMs() ?? deps.upstreamTimeoutMs, deps.upstreamTimeoutMs);
      return await callUpstream(deps.upstreams, method, request, caller, {
        signal: ctx.signal,
        timeoutMs: Math.max(1, timeoutMs),
      });
    } catch (err) {
      throw toConnectError(err);
    }
  };
}

/**
 * A platform error or a service's RpcError as a ConnectError: same code (Connect numbers codes
 * like gRPC), same message, and the `google.rpc.Status` details the service sent (its
 * BadRequest field violations) passed through untouched.
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (!(err instanceof ServiceError))
    return new ConnectError("internal error", ConnectCode.Internal);
  const error = new ConnectError(err.message, err.code as number as ConnectCode);
  if (err instanceof RpcError) {
    const [bin] = err.metadata.get(STATUS_DETAILS_KEY);
    if (bin instanceof Uint8Array) error.details.push(...statusDetails(bin));
  }
  return error;
}

/** The `details` (google.protobuf.Any) of a serialized google.rpc.Status, as Connect details. */
function statusDetails(status: Uint8Array): { type: string; value: Uint8Array }[] {
  const out: { type: string; value: Uint8Array }[] = [];
  try {
    const reader = new BinaryReader(status);
    while (reader.pos < reader.len) {
      const [field, wire] = reader.tag();
      if (field !== 3 || wire !== WireType.LengthDelimited) {
        reader.skip(wire, field);
        continue;
      }
      const any = new BinaryReader(reader.bytes());
      let typeUrl = "";
      let value: Uint8Array = new Uint8Array();
      while (any.pos < any.len) {
        const [f, w] = any.tag();
        if (f === 1 && w === WireType.LengthDelimited) typeUrl = any.string();
        else if (f === 2 && w === WireType.LengthDelimited) value = any.bytes();
        else any.skip(w, f);
      }
      out.push({ type: typeUrl.slice(typeUrl.lastIndexOf("/") + 1), value });
    }
  } catch {
    return out; // a malformed trailer must not hide the status itself
  }
  return out;
}
