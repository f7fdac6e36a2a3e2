import type { DescField, DescMessage } from "@bufbuild/protobuf";
import { type MethodPolicy, methodKey } from "./access-policy.ts";
import type { HttpBinding } from "./http-rules.ts";
import { type JsonSchema, SchemaCollector } from "./openapi-schemas.ts";
import { openApiPath } from "./path-template.ts";
import { successStatus } from "./rest-handler.ts";
import { STRING_LIKE_MESSAGES } from "./transcode.ts";

/** An OpenAPI 3.1 document, as plain JSON. */
export type OpenApiDocument = Record<string, unknown> & {
  paths: Record<string, Record<string, Record<string, unknown>>>;
};

/** Options of {@link buildOpenApi}. */
export interface OpenApiOptions {
  title?: string;
  version?: string;
  /** Server URL shown by /docs; relative "/" by default, so the page calls the edge it came from. */
  serverUrl?: string;
}

const MAX_QUERY_DEPTH = 3;

const ERROR_STATUSES: Record<string, string> = {
  "400": "Bad input: malformed JSON, wrong type, unknown field, failed validation.",
  "401": "Missing, malformed or expired access token.",
  "403": "The caller may not do this (admin role, or another user's resources).",
  "404": "No such resource.",
  "409": "Conflict: already exists, concurrent change, or the resource's state forbids it.",
  "413": "Request body too large.",
  "429": "Rate limit exceeded; see Retry-After.",
  "503": "A service is unavailable; retry later.",
  "504": "A service did not answer in time.",
};

/**
 * Generates the OpenAPI 3.1 document of the REST routes from the same bindings the edge routes
 * with, so the document and the server cannot drift: one operation per binding, path and query
 * parameters from the request message, the body schema per `body`, the response (or
 * `response_body`) schema, the error schema and bearer-JWT security for non-public routes.
 */
export function buildOpenApi(
  bindings: readonly HttpBinding[],
  policies: ReadonlyMap<string, MethodPolicy>,
  options: OpenApiOptions = {},
): OpenApiDocument {
  const schemas = new SchemaCollector();
  const paths: OpenApiDocument["paths"] = {};
  const operationIds = new Set<string>();
  for (const binding of bindings) {
    const policy = policies.get(methodKey(binding.method));
    const path = openApiPath(binding.template);
    paths[path] ??= {};
    const item = paths[path];
    let operationId = `${binding.method.parent.name}_${binding.method.name}`;
    for (let n = 2; operationIds.has(operationId); n++) {
      operationId = `${binding.method.parent.name}_${binding.method.name}_${n}`;
    }
    operationIds.add(operationId);

    const pathFields = new Set(binding.template.variables.map((v) => v.fieldPath));
    const parameters: Record<string, unknown>[] = binding.template.variables.map((v) => ({
      name: v.fieldPath,
      in: "path",
      required: true,
      schema: pathParamSchema(binding.method.input, v.fieldPath, schemas),
    }));
    if (binding.body !== "*") {
      const bodyField = binding.body === "" ? undefined : binding.body;
      for (const q of queryParams(binding.method.input, "", pathFields, bodyField, schemas, 0)) {
        parameters.push(q);
      }
    }

    const status = String(successStatus(binding));
    const responseSchema = binding.responseBody
      ? schemas.field(binding.responseBody)
      : schemas.message(binding.method.output);
    const responses: Record<string, unknown> = {
      [status]: {
        description: `${binding.method.output.name}`,
        content: { "application/json": { schema: responseSchema } },
      },
    };
    for (const [code, description] of Object.entries(ERROR_STATUSES)) {
      if ((code === "401" || code === "403") && policy?.access === "public" && !policy.ownerField) {
        continue;
      }
      responses[code] = { $ref: `#/components/responses/Error${code}`, description };
    }

    const operation: Record<string, unknown> = {
      operationId,
      tags: [binding.method.parent.name],
      summary: `${binding.method.parent.name}.${binding.method.name}`,
      description: accessText(policy),
      parameters,
      responses,
      security: policy?.access === "public" ? [{}, { bearerAuth: [] }] : [{ bearerAuth: [] }],
    };
    if (binding.body !== "") {
      const bodySchema =
        binding.body === "*"
          ? schemas.objectSchema(binding.method.input, (f) => !pathFields.has(f.name))
          : schemas.field(binding.body);
      operation.requestBody = {
        required: binding.body !== "*",
        content: { "application/json": { schema: bodySchema } },
      };
    }
    item[binding.verb.toLowerCase()] = operation;
  }

  const errorResponses: Record<string, unknown> = {};
  for (const [code, description] of Object.entries(ERROR_STATUSES)) {
    errorResponses[`Error${code}`] = {
      description,
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      ...(code === "429"
        ? { headers: { "Retry-After": { schema: { type: "integer" }, description: "Seconds." } } }
        : {}),
    };
  }

  return {
    openapi: "3.1.0",
    info: {
      title: options.title ?? "shopmesh REST API",
      version: options.version ?? "v1",
      description:
        "REST/JSON binding of the shopmesh gRPC contracts, generated from their google.api.http " +
        "annotations. Field names are proto JSON (lowerCamelCase); 64-bit integers are strings; " +
        "enums are their value names. The same RPCs are served over Connect and gRPC-Web.",
    },
    servers: [{ url: options.serverUrl ?? "/" }],
    paths,
    components: {
      schemas: { ...schemas.schemas, Error: ERROR_SCHEMA },
      responses: errorResponses,
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
      },
    },
  };
}

const ERROR_SCHEMA: JsonSchema = {
  type: "object",
  required: ["code", "message", "details"],
  properties: {
    code: { type: "string", description: "Lower-case status name, e.g. invalid_argument." },
    message: { type: "string" },
    details: {
      type: "array",
      items: {
        type: "object",
        required: ["field", "description"],
        properties: { field: { type: "string" }, description: { type: "string" } },
      },
    },
  },
};

function accessText(policy: MethodPolicy | undefined): string {
  const who =
    policy?.access === "admin"
      ? "Admin only."
      : policy?.access === "user"
        ? "Needs a signed-in user."
        : "Public.";
  return policy?.ownerField
    ? `${who} A user_id must be the caller's own unless the caller is an admin.`
    : who;
}

function pathParamSchema(message: DescMessage, fieldPath: string, schemas: SchemaCollector) {
  let current = message;
  let field: DescField | undefined;
  for (const name of fieldPath.split(".")) {
    field = current.fields.find((f) => f.name === name);
    if (field?.fieldKind === "message") current = field.message;
  }
  return field ? schemas.field(field) : { type: "string" };
}

/** Query parameters for every field not bound by the path or body, nested ones as `a.b`. */
function queryParams(
  message: DescMessage,
  prefix: string,
  pathFields: ReadonlySet<string>,
  bodyField: DescField | undefined,
  schemas: SchemaCollector,
  depth: number,
): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const field of message.fields) {
    const name = `${prefix}${field.name}`;
    if (pathFields.has(name) || (depth === 0 && field === bodyField)) continue;
    if (field.fieldKind === "map") continue;
    if (field.fieldKind === "message") {
      if (STRING_LIKE_MESSAGES.has(field.message.typeName)) {
        out.push({ name, in: "query", schema: schemas.field(field) });
      } else if (!field.message.typeName.startsWith("google.") && depth < MAX_QUERY_DEPTH) {
        out.push(
          ...queryParams(field.message, `${name}.`, pathFields, bodyField, schemas, depth + 1),
        );
      }
      continue;
    }
    if (field.fieldKind === "list" && field.listKind === "message") continue;
    out.push({
      name,
      in: "query",
      schema: schemas.field(field),
      ...(field.fieldKind === "list" ? { style: "form", explode: true } : {}),
    });
  }
  return out;
}
