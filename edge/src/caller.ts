import type { DescMethod, Message } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import { Code, ServiceError, UnavailableError } from "@shopmesh/platform/errors";
import type { Authenticate } from "@shopmesh/platform/grpc-server";
import { CORRELATION_ID, type Principal } from "@shopmesh/platform/handler-context";
import type { Upstreams } from "./upstreams.ts";

/** Who sent a request to the edge, established once per HTTP request for REST and Connect. */
export interface Caller {
  /** The `x-request-id` (given or generated); forwarded as the correlation id. */
  requestId: string;
  ip: string;
  /** The `Authorization` header exactly as sent, forwarded unchanged. */
  authorization: string | undefined;
  /** The verified token's subject and roles; undefined when anonymous or invalid. */
  principal: Principal | undefined;
  /** Why the presented token was refused (UNAUTHENTICATED, or UNAVAILABLE without a JWKS). */
  authError: Error | undefined;
}

/**
 * Verifies the `Authorization` header with the platform's JWT authenticator (JWKS from the user
 * service, cached, refetched on an unknown kid). No header means anonymous; a bad one is kept as
 * `authError` so each protocol answers it its own way.
 */
export async function identify(
  authenticate: Authenticate,
  authorization: string | undefined,
): Promise<Pick<Caller, "principal" | "authError">> {
  if (authorization === undefined) return { principal: undefined, authError: undefined };
  const metadata = new Metadata();
  metadata.set("authorization", authorization);
  try {
    return { principal: await authenticate(metadata, "edge"), authError: undefined };
  } catch (err) {
    return { principal: undefined, authError: err as Error };
  }
}

/**
 * Calls `method` on its upstream with the caller's token and request id as metadata, under the
 * edge's deadline; rejects with the service's RpcError (code, message, field violations).
 */
export async function callUpstream(
  upstreams: Upstreams,
  method: DescMethod,
  request: Message,
  caller: Caller,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<Message> {
  const call = upstreams.callOf(method);
  if (!call)
    throw new ServiceError(Code.UNIMPLEMENTED, `${method.parent.typeName} is not served here`);
  const metadata: Record<string, string> = { [CORRELATION_ID]: caller.requestId };
  if (caller.authorization !== undefined) metadata.authorization = caller.authorization;
  try {
    return await call(request, {
      metadata,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
  } catch (err) {
    // Transport failures carry grpc-js text naming internal addresses; browsers get a plain one.
    const name = upstreams.specOf(method)?.name ?? "upstream";
    if (!(err instanceof ServiceError) || err.code === Code.UNAVAILABLE) {
      throw new UnavailableError(`the ${name} service is unavailable; retry later`);
    }
    if (err.code === Code.DEADLINE_EXCEEDED) {
      throw new ServiceError(Code.DEADLINE_EXCEEDED, `the ${name} service did not answer in time`);
    }
    throw err;
  }
}
