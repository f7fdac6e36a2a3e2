import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator, type Violation } from "@bufbuild/protovalidate";
import { type FieldViolation, InvalidArgumentError } from "./errors.ts";

// One validator for the process: it compiles and caches a plan per message type, so creating
// one per request (or per service) would recompile every rule.
const validator = createValidator();

/**
 * Checks a request against the protovalidate rules declared in its `.proto` and throws an
 * {@link InvalidArgumentError} listing every violated rule with its field path, e.g.
 * `text: value length must be at least 1 characters [string.min_len]`. The gRPC server calls it
 * before any handler runs; call it yourself for messages that arrive another way (Kafka).
 *
 * A rule that cannot be compiled or evaluated is a bug in the contract, not in the request, so
 * it surfaces as a plain Error and becomes INTERNAL.
 */
export function validateMessage<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
): void {
  const result = validator.validate(schema, message);
  if (result.kind === "valid") return;
  if (result.kind === "invalid") throw new InvalidArgumentError(result.violations.map(toField));
  throw new Error(`cannot validate ${schema.typeName}: ${result.error.message}`, {
    cause: result.error,
  });
}

function toField(violation: Violation): FieldViolation {
  return {
    field: pathToString(violation.field),
    description: `${violation.message} [${violation.ruleId}]`,
    reason: violation.ruleId,
  };
}
