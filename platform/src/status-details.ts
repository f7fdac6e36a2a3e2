import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import type { FieldViolation } from "./errors.ts";

/** The trailer that carries a serialized `google.rpc.Status` with rich error details. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

const BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest";

/**
 * Encodes `google.rpc.Status{code, message, details: [Any(google.rpc.BadRequest)]}`, the shape
 * stock gRPC clients (grpcurl, buf curl, Google's client libraries) know how to show.
 * Hand-encoded with the wire writer because shopmesh does not vendor google/rpc protos, and
 * these three small messages are frozen.
 */
export function encodeBadRequest(
  code: number,
  message: string,
  violations: readonly FieldViolation[],
): Uint8Array {
  const badRequest = new BinaryWriter();
  for (const v of violations) {
    // BadRequest.field_violations (1) -> FieldViolation{field 1, description 2, reason 3}
    badRequest.tag(1, WireType.LengthDelimited).fork();
    badRequest.tag(1, WireType.LengthDelimited).string(v.field);
    badRequest.tag(2, WireType.LengthDelimited).string(v.description);
    if (v.reason) badRequest.tag(3, WireType.LengthDelimited).string(v.reason);
    badRequest.join();
  }
  const status = new BinaryWriter();
  status.tag(1, WireType.Varint).int32(code);
  status.tag(2, WireType.LengthDelimited).string(message);
  status.tag(3, WireType.LengthDelimited).fork(); // details: Any{type_url 1, value 2}
  status.tag(1, WireType.LengthDelimited).string(BAD_REQUEST_TYPE_URL);
  status.tag(2, WireType.LengthDelimited).bytes(badRequest.finish());
  status.join();
  return status.finish();
}

/**
 * Reads the field violations out of a serialized `google.rpc.Status`; details of other types
 * are skipped, so servers may add their own next to BadRequest.
 */
export function decodeBadRequest(bytes: Uint8Array): FieldViolation[] {
  const violations: FieldViolation[] = [];
  for (const [field, any] of fields(bytes)) {
    if (field !== 3 || !(any instanceof Uint8Array)) continue;
    let typeUrl = "";
    let value: Uint8Array | undefined;
    for (const [f, v] of fields(any)) {
      if (f === 1 && v instanceof Uint8Array) typeUrl = new TextDecoder().decode(v);
      if (f === 2 && v instanceof Uint8Array) value = v;
    }
    if (typeUrl !== BAD_REQUEST_TYPE_URL || !value) continue;
    for (const [f, fv] of fields(value)) {
      if (f !== 1 || !(fv instanceof Uint8Array)) continue;
      const violation: FieldViolation = { field: "", description: "" };
      for (const [g, s] of fields(fv)) {
        if (!(s instanceof Uint8Array)) continue;
        const text = new TextDecoder().decode(s);
        if (g === 1) violation.field = text;
        else if (g === 2) violation.description = text;
        else if (g === 3) violation.reason = text;
      }
      violations.push(violation);
    }
  }
  return violations;
}

/** Yields each field of a message as [number, bytes] (length-delimited) or [number, null]. */
function* fields(bytes: Uint8Array): Generator<[number, Uint8Array | null]> {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (wireType === WireType.LengthDelimited) yield [fieldNo, reader.bytes()];
    else {
      reader.skip(wireType, fieldNo);
      yield [fieldNo, null];
    }
  }
}
