import { Metadata, status } from "@grpc/grpc-js";
import { decodeBadRequest, encodeBadRequest, STATUS_DETAILS_KEY } from "./status-details.ts";

/** gRPC status codes, re-exported so services never import `@grpc/grpc-js` just to name a code. */
export { status as Code };

/**
 * One field that failed a rule: `field` is a dotted path into the request (`items[0].quantity`),
 * `description` says what was wrong. Sent to callers as a `google.rpc.BadRequest` field violation.
 */
export interface FieldViolation {
  field: string;
  description: string;
  /** Machine-readable rule id, e.g. protovalidate's `string.min_len`. */
  reason?: string;
}

/**
 * Base class of every error that carries its own gRPC status code. Handlers throw a subclass
 * (or an {@link RpcError} from a downstream call); {@link toStatus} turns it into the status the
 * caller sees, so no handler ever builds a status object by hand.
 */
export class ServiceError extends Error {
  constructor(
    readonly code: status,
    message: string,
    readonly violations: readonly FieldViolation[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The entity the request names does not exist (NOT_FOUND). Say which one: "product 42 not found". */
export class NotFoundError extends ServiceError {
  constructor(message: string) {
    super(status.NOT_FOUND, message);
  }
}

/**
 * A request field breaks a rule that protovalidate cannot express, e.g. a cross-field check
 * (INVALID_ARGUMENT). The field path travels to the caller as a field violation.
 */
export class InvalidArgumentError extends ServiceError {
  constructor(field: string, description: string);
  constructor(violations: readonly FieldViolation[]);
  constructor(fieldOrViolations: string | readonly FieldViolation[], description = "") {
    const violations =
      typeof fieldOrViolations === "string"
        ? [{ field: fieldOrViolations, description }]
        : fieldOrViolations;
    super(status.INVALID_ARGUMENT, violations.map(formatViolation).join("; "), violations);
  }
}

/** The system is not in a state that allows the operation, e.g. cancelling a shipped order (FAILED_PRECONDITION). */
export class FailedPreconditionError extends ServiceError {
  constructor(message: string) {
    super(status.FAILED_PRECONDITION, message);
  }
}

/** The entity the caller tried to create already exists (ALREADY_EXISTS). */
export class AlreadyExistsError extends ServiceError {
  constructor(message: string) {
    super(status.ALREADY_EXISTS, message);
  }
}

/** The caller is known but may not do this, e.g. read another user's cart (PERMISSION_DENIED). */
export class PermissionDeniedError extends ServiceError {
  constructor(message: string) {
    super(status.PERMISSION_DENIED, message);
  }
}

/** The caller presented no valid credentials (UNAUTHENTICATED). */
export class UnauthenticatedError extends ServiceError {
  constructor(message = "missing or invalid credentials") {
    super(status.UNAUTHENTICATED, message);
  }
}

/**
 * A concurrent change won the race, e.g. an optimistic-lock version mismatch (ABORTED); the
 * caller may retry the whole read-modify-write sequence.
 */
export class ConflictError extends ServiceError {
  constructor(message: string) {
    super(status.ABORTED, message);
  }
}

/** A dependency is down or the service is shutting down (UNAVAILABLE); safe to retry later. */
export class UnavailableError extends ServiceError {
  constructor(message: string) {
    super(status.UNAVAILABLE, message);
  }
}

/** A quota or rate limit is exhausted (RESOURCE_EXHAUSTED). */
export class ResourceExhaustedError extends ServiceError {
  constructor(message: string) {
    super(status.RESOURCE_EXHAUSTED, message);
  }
}

/**
 * The failure of a gRPC call as a client sees it: the status code, the server's message, its
 * field violations (decoded from `grpc-status-details-bin`) and the trailing metadata. A handler
 * that lets one escape passes the downstream code on, so NOT_FOUND stays NOT_FOUND end to end.
 */
export class RpcError extends ServiceError {
  constructor(
    code: status,
    message: string,
    violations: readonly FieldViolation[] = [],
    readonly metadata: Metadata = new Metadata(),
  ) {
    super(code, message, violations);
  }

  /** Builds an RpcError from the error object grpc-js hands to a call's callback. */
  static fromGrpc(err: { code?: number; details?: string; message?: string; metadata?: Metadata }) {
    const metadata = err.metadata ?? new Metadata();
    const code = typeof err.code === "number" ? (err.code as status) : status.UNKNOWN;
    return new RpcError(
      code,
      err.details ?? err.message ?? "",
      decodeViolations(metadata),
      metadata,
    );
  }
}

/** What {@link toStatus} decided to send: a grpc-js status object plus whether it hid a bug. */
export interface MappedStatus {
  code: status;
  details: string;
  metadata: Metadata;
  /** True when the error was not a {@link ServiceError}: log its stack, it is a bug. */
  unexpected: boolean;
}

/**
 * The one place that maps errors to gRPC statuses. Typed errors keep their code and message;
 * anything else becomes INTERNAL with a generic message, because stack traces and driver errors
 * leak internals to callers and are useless to them.
 */
export function toStatus(err: unknown): MappedStatus {
  if (err instanceof ServiceError) {
    const metadata = new Metadata();
    if (err.violations.length > 0) {
      const details = encodeBadRequest(err.code, err.message, err.violations);
      metadata.set(
        STATUS_DETAILS_KEY,
        Buffer.from(details.buffer, details.byteOffset, details.byteLength),
      );
    }
    return { code: err.code, details: err.message, metadata, unexpected: false };
  }
  return {
    code: status.INTERNAL,
    details: "internal error",
    metadata: new Metadata(),
    unexpected: true,
  };
}

/** Field violations carried in a status's `grpc-status-details-bin` trailer, or none. */
export function decodeViolations(metadata: Metadata): FieldViolation[] {
  const [bin] = metadata.get(STATUS_DETAILS_KEY);
  if (!(bin instanceof Uint8Array)) return [];
  try {
    return decodeBadRequest(bin);
  } catch {
    return []; // a malformed trailer must not hide the status itself
  }
}

function formatViolation(v: FieldViolation): string {
  return v.field ? `${v.field}: ${v.description}` : v.description;
}
