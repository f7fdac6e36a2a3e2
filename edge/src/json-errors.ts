import type { DescEnum, DescField, DescMessage, JsonValue } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "@shopmesh/platform/errors";

/**
 * Turns protobuf-es's JSON decoding error into an INVALID_ARGUMENT naming the field by its
 * full path in the request (`items[0].quantity`). protobuf-es names only the message type and
 * field (`cannot decode field pkg.Msg.name from JSON: ...`, `... key "x" is unknown`,
 * `cannot decode enum pkg.E from JSON: "X"`), so the path is found by walking `json` along
 * `schema` to the value that matches.
 */
export function jsonError(
  err: unknown,
  schema: DescMessage,
  json: JsonValue,
): InvalidArgumentError {
  const text = err instanceof Error ? err.message : String(err);
  const reason = (s: string) => s.slice(0, 200);

  const unknownKey = /cannot decode message ([\w.]+) from JSON: key "([^"]*)" is unknown/.exec(
    text,
  );
  if (unknownKey) {
    const [, typeName, key] = unknownKey as unknown as [string, string, string];
    const at = locate(schema, json, "", (message, k) => message.typeName === typeName && k === key);
    return new InvalidArgumentError(at ?? key, "unknown field");
  }
  const field = /cannot decode field ([\w.]+)\.(\w+) from JSON: (.*)$/s.exec(text);
  if (field) {
    const [, typeName, name, why] = field as unknown as [string, string, string, string];
    const at = locate(
      schema,
      json,
      "",
      (message, _k, f) => message.typeName === typeName && f?.name === name,
    );
    return new InvalidArgumentError(at ?? name, reason(why));
  }
  const enumValue = /cannot decode enum ([\w.]+) from JSON: (.*)$/s.exec(text);
  if (enumValue) {
    // protobuf-es prints a bad number or boolean itself but only the type of a bad string
    // ("... from JSON: string"), so the field is found by the value that is not of the enum.
    const [, typeName, shown] = enumValue as unknown as [string, string, string];
    let bad: JsonValue | undefined;
    const at = locate(schema, json, "", (_m, _k, f, v) => {
      const e = enumFieldOf(f);
      if (e?.typeName !== typeName || Array.isArray(v) || isEnumJson(e, v)) return false;
      bad = v;
      return true;
    });
    const value = bad === undefined ? shown : JSON.stringify(bad);
    return new InvalidArgumentError(
      at ?? typeName,
      reason(`${value} is not a value of ${typeName}`),
    );
  }
  const message = /cannot decode (?:message )?([\w.]+) from JSON:? ?(.*)$/s.exec(text);
  if (message) {
    const [, typeName, why] = message as unknown as [string, string, string];
    const at = locate(
      schema,
      json,
      "",
      (_m, _k, f) => f?.fieldKind === "message" && f.message.typeName === typeName,
    );
    return new InvalidArgumentError(at ?? "body", reason(why || "invalid value"));
  }
  return new InvalidArgumentError("body", "invalid JSON for this request");
}

function enumFieldOf(field: DescField | undefined): DescEnum | undefined {
  if (!field) return undefined;
  if (field.fieldKind === "enum") return field.enum;
  if (field.fieldKind === "list" && field.listKind === "enum") return field.enum;
  if (field.fieldKind === "map" && field.mapKind === "enum") return field.enum;
  return undefined;
}

/** Whether protobuf-es accepts `value` as JSON of `e` (a value name, an int32 or null). */
function isEnumJson(e: DescEnum, value: JsonValue): boolean {
  if (value === null) return true;
  if (typeof value === "string") return e.values.some((v) => v.name === value);
  return typeof value === "number" && Number.isInteger(value) && Math.abs(value) <= 2 ** 31;
}

type Match = (
  message: DescMessage,
  key: string,
  field: DescField | undefined,
  value: JsonValue,
) => boolean;

/** The dotted path of the first (message, key) in `json` that `match` accepts. */
function locate(
  message: DescMessage,
  json: JsonValue,
  prefix: string,
  match: Match,
  depth = 0,
): string | undefined {
  if (depth > 32 || typeof json !== "object" || json === null || Array.isArray(json))
    return undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = message.fields.find((f) => f.jsonName === key || f.name === key);
    const path = `${prefix}${field?.name ?? key}`;
    const values = Array.isArray(value) ? value : [value];
    if (match(message, key, field, value)) return path;
    for (const [index, item] of values.entries()) {
      if (field && match(message, key, field, item))
        return Array.isArray(value) ? `${path}[${index}]` : path;
    }
    if (!field) continue;
    const child =
      field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message")
        ? field.message
        : field.fieldKind === "map" && field.mapKind === "message"
          ? field.message
          : undefined;
    if (!child) continue;
    if (field.fieldKind === "message") {
      const found = locate(child, value, `${path}.`, match, depth + 1);
      if (found) return found;
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) {
        const found = locate(child, item, `${path}[${index}].`, match, depth + 1);
        if (found) return found;
      }
    } else if (typeof value === "object" && value !== null) {
      for (const [k, item] of Object.entries(value)) {
        const found = locate(child, item, `${path}["${k}"].`, match, depth + 1);
        if (found) return found;
      }
    }
  }
  return undefined;
}
