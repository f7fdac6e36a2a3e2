import { Code, type FieldViolation, ServiceError } from "@shopmesh/platform/errors";

/**
 * The one table from gRPC status codes to HTTP statuses, with the lower-case code names the
 * JSON error body uses (the names Connect uses too).
 *
 * FAILED_PRECONDITION answers 409 Conflict, not 412: 412 is about the request's own conditional
 * headers (If-Match), while a failed precondition here is the resource's state (cancelling a
 * shipped order), the same family as ALREADY_EXISTS and ABORTED. The body's `code` tells them
 * apart.
 */
export const HTTP_STATUS_OF: Readonly<Record<number, { status: number; name: string }>> = {
  [Code.OK]: { status: 200, name: "ok" },
  [Code.CANCELLED]: { status: 499, name: "canceled" },
  [Code.UNKNOWN]: { status: 500, name: "unknown" },
  [Code.INVALID_ARGUMENT]: { status: 400, name: "invalid_argument" },
  [Code.DEADLINE_EXCEEDED]: { status: 504, name: "deadline_exceeded" },
  [Code.NOT_FOUND]: { status: 404, name: "not_found" },
  [Code.ALREADY_EXISTS]: { status: 409, name: "already_exists" },
  [Code.PERMISSION_DENIED]: { status: 403, name: "permission_denied" },
  [Code.RESOURCE_EXHAUSTED]: { status: 429, name: "resource_exhausted" },
  [Code.FAILED_PRECONDITION]: { status: 409, name: "failed_precondition" },
  [Code.ABORTED]: { status: 409, name: "aborted" },
  [Code.OUT_OF_RANGE]: { status: 400, name: "out_of_range" },
  [Code.UNIMPLEMENTED]: { status: 501, name: "unimplemented" },
  [Code.INTERNAL]: { status: 500, name: "internal" },
  [Code.UNAVAILABLE]: { status: 503, name: "unavailable" },
  [Code.DATA_LOSS]: { status: 500, name: "data_loss" },
  [Code.UNAUTHENTICATED]: { status: 401, name: "unauthenticated" },
};

/** The JSON error body every REST error answers with. */
export interface ErrorBody {
  code: string;
  message: string;
  details: { field: string; description: string }[];
}

/** An HTTP error answer: status, body and extra headers (Retry-After, Allow). */
export interface HttpError {
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

/**
 * Maps anything a REST call failed with to its HTTP answer. Typed errors (the platform's, or an
 * {@link RpcError} from a service with its field violations decoded from
 * `grpc-status-details-bin`) keep their code and message; anything else is a bug in the edge and
 * becomes a bare 500 whose message reveals nothing.
 */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof ServiceError) {
    return httpError(err.code, err.message, err.violations);
  }
  return httpError(Code.INTERNAL, "internal error");
}

/** Builds the answer for gRPC `code` with `message` and optional field violations. */
export function httpError(
  code: number,
  message: string,
  violations: readonly FieldViolation[] = [],
): HttpError {
  const entry = HTTP_STATUS_OF[code] ?? HTTP_STATUS_OF[Code.UNKNOWN]!;
  return {
    status: entry.status,
    body: {
      code: entry.name,
      message,
      details: violations.map((v) => ({ field: v.field, description: v.description })),
    },
  };
}

/** A 4xx answer that has no gRPC code of its own (404 route, 405, 413, 415). */
export function plainHttpError(
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): HttpError {
  return { status, body: { code, message, details: [] }, ...(headers ? { headers } : {}) };
}
