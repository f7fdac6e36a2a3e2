import {
  type DescEnum,
  type DescField,
  type DescMessage,
  getOption,
  ScalarType,
} from "@bufbuild/protobuf";
import { FieldBehavior, field_behavior } from "@shopmesh/gen/google/api/field_behavior_pb.js";

/** A JSON Schema object as OpenAPI 3.1 embeds it. */
export type JsonSchema = Record<string, unknown>;

// Proto JSON: 64-bit integers are strings (JavaScript numbers cannot hold them), bytes base64.
const SCALAR_SCHEMAS: Record<ScalarType, JsonSchema> = {
  [ScalarType.DOUBLE]: { type: "number", format: "double" },
  [ScalarType.FLOAT]: { type: "number", format: "float" },
  [ScalarType.INT64]: { type: "string", format: "int64", pattern: "^-?[0-9]+$" },
  [ScalarType.UINT64]: { type: "string", format: "uint64", pattern: "^[0-9]+$" },
  [ScalarType.INT32]: { type: "integer", format: "int32" },
  [ScalarType.FIXED64]: { type: "string", format: "uint64", pattern: "^[0-9]+$" },
  [ScalarType.FIXED32]: { type: "integer", format: "uint32", minimum: 0 },
  [ScalarType.BOOL]: { type: "boolean" },
  [ScalarType.STRING]: { type: "string" },
  [ScalarType.BYTES]: { type: "string", contentEncoding: "base64" },
  [ScalarType.UINT32]: { type: "integer", format: "uint32", minimum: 0 },
  [ScalarType.SFIXED32]: { type: "integer", format: "int32" },
  [ScalarType.SFIXED64]: { type: "string", format: "int64", pattern: "^-?[0-9]+$" },
  [ScalarType.SINT32]: { type: "integer", format: "int32" },
  [ScalarType.SINT64]: { type: "string", format: "int64", pattern: "^-?[0-9]+$" },
};

// Well-known types have a JSON form of their own rather than an object of their fields.
const WELL_KNOWN: Record<string, JsonSchema> = {
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?s$" },
  "google.protobuf.FieldMask": {
    type: "string",
    description: "Comma-separated lowerCamelCase field paths.",
  },
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Empty": { type: "object" },
  "google.protobuf.Any": {
    type: "object",
    properties: { "@type": { type: "string" } },
    required: ["@type"],
    additionalProperties: true,
  },
  "google.protobuf.StringValue": { type: ["string", "null"] },
  "google.protobuf.BytesValue": { type: ["string", "null"], contentEncoding: "base64" },
  "google.protobuf.BoolValue": { type: ["boolean", "null"] },
  "google.protobuf.Int32Value": { type: ["integer", "null"], format: "int32" },
  "google.protobuf.UInt32Value": { type: ["integer", "null"], format: "uint32" },
  "google.protobuf.Int64Value": { type: ["string", "null"], format: "int64" },
  "google.protobuf.UInt64Value": { type: ["string", "null"], format: "uint64" },
  "google.protobuf.FloatValue": { type: ["number", "null"], format: "float" },
  "google.protobuf.DoubleValue": { type: ["number", "null"], format: "double" },
};

/**
 * Collects the `components.schemas` of an OpenAPI document from message and enum descriptors:
 * one schema per type, named by its full proto name, referenced with `$ref`. Field names are
 * the proto JSON names (lowerCamelCase), enums are their value names, int64 are strings, as
 * protobuf's JSON mapping writes them.
 */
export class SchemaCollector {
  readonly schemas: Record<string, JsonSchema> = {};

  /** A schema for `message`: a `$ref` (registering the type), or a well-known type inline. */
  message(message: DescMessage): JsonSchema {
    const wellKnown = WELL_KNOWN[message.typeName];
    if (wellKnown) return { ...wellKnown };
    const ref = { $ref: `#/components/schemas/${message.typeName}` };
    if (this.schemas[message.typeName]) return ref;
    this.schemas[message.typeName] = {}; // placeholder, so recursive messages terminate
    this.schemas[message.typeName] = this.objectSchema(message, () => true);
    return ref;
  }

  /** An inline object schema of `message`'s fields that pass `include` (e.g. a body minus path fields). */
  objectSchema(message: DescMessage, include: (field: DescField) => boolean): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const field of message.fields) {
      if (!include(field)) continue;
      properties[field.jsonName] = this.field(field);
      const behaviors = getOption(field, field_behavior);
      if (behaviors.includes(FieldBehavior.REQUIRED)) required.push(field.jsonName);
    }
    const schema: JsonSchema = { type: "object", properties, additionalProperties: false };
    if (required.length > 0) schema.required = required;
    return schema;
  }

  /** The schema of one field's JSON value. */
  field(field: DescField): JsonSchema {
    switch (field.fieldKind) {
      case "scalar":
        return { ...SCALAR_SCHEMAS[field.scalar] };
      case "enum":
        return this.enumSchema(field.enum);
      case "message":
        return this.message(field.message);
      case "list":
        return {
          type: "array",
          items:
            field.listKind === "scalar"
              ? { ...SCALAR_SCHEMAS[field.scalar] }
              : field.listKind === "enum"
                ? this.enumSchema(field.enum)
                : this.message(field.message),
        };
      case "map":
        return {
          type: "object",
          additionalProperties:
            field.mapKind === "scalar"
              ? { ...SCALAR_SCHEMAS[field.scalar] }
              : field.mapKind === "enum"
                ? this.enumSchema(field.enum)
                : this.message(field.message),
        };
    }
  }

  /** A `$ref` to an enum's schema: its value names as strings. */
  enumSchema(desc: DescEnum): JsonSchema {
    if (!this.schemas[desc.typeName]) {
      this.schemas[desc.typeName] = { type: "string", enum: desc.values.map((v) => v.name) };
    }
    return { $ref: `#/components/schemas/${desc.typeName}` };
  }
}
