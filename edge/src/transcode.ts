import {
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  type Message,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import { InvalidArgumentError } from "@shopmesh/platform/errors";
import type { HttpBinding } from "./http-rules.ts";
import { jsonError } from "./json-errors.ts";

/** What a REST request carries besides its verb: path values, query and the parsed body. */
export interface RestInput {
  /** Path variables by field path, as the route table matched them. */
  pathValues: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body; undefined when the request had none. */
  body: JsonValue | undefined;
}

/**
 * Well-known message types whose JSON form is a string or number, so a query parameter can
 * carry them (`?since=2025-01-01T00:00:00Z`).
 */
export const STRING_LIKE_MESSAGES: ReadonlySet<string> = new Set([
  "google.protobuf.Timestamp",
  "google.protobuf.Duration",
  "google.protobuf.FieldMask",
  "google.protobuf.StringValue",
  "google.protobuf.BytesValue",
  "google.protobuf.Int32Value",
  "google.protobuf.Int64Value",
  "google.protobuf.UInt32Value",
  "google.protobuf.UInt64Value",
  "google.protobuf.FloatValue",
  "google.protobuf.DoubleValue",
  "google.protobuf.BoolValue",
]);

/**
 * Builds the request message of a REST call per google.api.http: the body (all of it for
 * `body: "*"`, else into the named field), then the path variables, then query parameters for
 * every field neither binds (`a.b` for nested fields, repeated keys for lists). Everything goes
 * through protobuf's JSON mapping with unknown fields rejected, so a wrong type, an unknown key
 * or a bad enum name is an {@link InvalidArgumentError} naming the field, never a crash.
 */
export function buildRequest(binding: HttpBinding, input: RestInput): Message {
  const schema = binding.method.input;
  const json: JsonObject = {};
  if (binding.body === "*") {
    if (input.body !== undefined) {
      if (!isObject(input.body)) {
        throw new InvalidArgumentError("body", "must be a JSON object");
      }
      Object.assign(json, input.body);
    }
  } else if (binding.body !== "") {
    if (input.body !== undefined) json[binding.body.jsonName] = input.body;
  } else if (input.body !== undefined) {
    throw new InvalidArgumentError(
      "body",
      `${binding.verb} ${binding.template.source} takes no body`,
    );
  }

  const pathBound = new Set(Object.keys(input.pathValues));
  for (const [fieldPath, value] of Object.entries(input.pathValues)) {
    setJsonPath(schema, json, fieldPath, [value], "path");
  }

  const queryKeys = new Set(input.query.keys());
  for (const key of queryKeys) {
    if (binding.body === "*") {
      throw new InvalidArgumentError(key, "unknown query parameter (this route takes a JSON body)");
    }
    const canonical = canonicalPath(schema, key);
    const top = canonical.split(".")[0]!;
    if (pathBound.has(canonical)) {
      throw new InvalidArgumentError(key, "is bound by the path and cannot be a query parameter");
    }
    if (binding.body !== "" && top === binding.body.name) {
      throw new InvalidArgumentError(key, "is carried by the request body");
    }
    setJsonPath(schema, json, key, input.query.getAll(key), "query");
  }

  try {
    return fromJson(schema, json, { ignoreUnknownFields: false });
  } catch (err) {
    throw jsonError(err, schema, json);
  }
}

/** The REST response body: the response in proto JSON, or its `response_body` field. */
export function renderResponse(binding: HttpBinding, response: Message): JsonValue {
  const json = toJson(binding.method.output, response, { alwaysEmitImplicit: true });
  if (!binding.responseBody) return json;
  return (json as JsonObject)[binding.responseBody.jsonName] ?? null;
}

/**
 * Writes `values` (strings from the path or query) at `fieldPath` inside `json`, converted to
 * what proto JSON expects of the field's type.
 */
function setJsonPath(
  schema: DescMessage,
  json: JsonObject,
  fieldPath: string,
  values: string[],
  source: "path" | "query",
): void {
  let message = schema;
  let target = json;
  const names = fieldPath.split(".");
  for (let k = 0; k < names.length; k++) {
    const name = names[k]!;
    const field = message.fields.find((f) => f.name === name || f.jsonName === name);
    if (!field) throw new InvalidArgumentError(fieldPath, `unknown ${source} parameter`);
    const last = k === names.length - 1;
    if (!last) {
      if (field.fieldKind !== "message") {
        throw new InvalidArgumentError(fieldPath, `${name} has no fields`);
      }
      const existing = target[field.jsonName];
      const next: JsonObject = isObject(existing) ? existing : {};
      target[field.jsonName] = next;
      target = next;
      message = field.message;
      continue;
    }
    const converted = values.map((v) => scalarJson(field, v, fieldPath));
    // A path value replaces the same field sent in a `body: "*"` under its proto name.
    if (field.name !== field.jsonName) delete target[field.name];
    if (field.fieldKind === "list") {
      const existing = target[field.jsonName];
      target[field.jsonName] = [...(Array.isArray(existing) ? existing : []), ...converted];
    } else if (values.length > 1) {
      throw new InvalidArgumentError(fieldPath, "is not repeated but was given more than once");
    } else {
      target[field.jsonName] = converted[0]!;
    }
  }
}

function scalarJson(field: DescField, value: string, fieldPath: string): JsonValue {
  const kind =
    field.fieldKind === "list"
      ? field.listKind
      : field.fieldKind === "map"
        ? "map"
        : field.fieldKind;
  if (kind === "map") {
    throw new InvalidArgumentError(fieldPath, "is a map and cannot be a query parameter");
  }
  if (kind === "message") {
    const typeName = field.message?.typeName ?? "";
    if (!STRING_LIKE_MESSAGES.has(typeName)) {
      throw new InvalidArgumentError(fieldPath, "is a message; name one of its fields (a.b)");
    }
    return typeName === "google.protobuf.BoolValue" ? boolJson(value, fieldPath) : value;
  }
  if (kind === "enum") return /^-?\d+$/.test(value) ? Number(value) : value;
  const scalar = field.scalar;
  if (scalar === ScalarType.BOOL) return boolJson(value, fieldPath);
  // Proto JSON accepts numbers as strings, so numeric types pass through and fromJson checks them.
  return value;
}

function boolJson(value: string, fieldPath: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new InvalidArgumentError(fieldPath, `must be true or false, got ${JSON.stringify(value)}`);
}

/** `fieldPath` with every json name replaced by its proto name, as path variables spell them. */
function canonicalPath(schema: DescMessage, fieldPath: string): string {
  let message: DescMessage | undefined = schema;
  return fieldPath
    .split(".")
    .map((name) => {
      const field = message?.fields.find((f) => f.name === name || f.jsonName === name);
      message = field?.fieldKind === "message" ? field.message : undefined;
      return field?.name ?? name;
    })
    .join(".");
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
