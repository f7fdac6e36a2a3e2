import { type DescField, type DescMethod, type DescService, getOption } from "@bufbuild/protobuf";
import { http } from "@shopmesh/gen/google/api/annotations_pb.js";
import type { HttpRule } from "@shopmesh/gen/google/api/http_pb.js";
import { type PathTemplate, parsePathTemplate } from "./path-template.ts";

/** One REST binding of an RPC: an HTTP verb and path template, with its body mapping. */
export interface HttpBinding {
  method: DescMethod;
  /** Upper-case HTTP verb: GET, POST, PUT, PATCH, DELETE or a custom one. */
  verb: string;
  template: PathTemplate;
  /** "" (no body), "*" (every field not bound by the path) or a top-level field. */
  body: "" | "*" | DescField;
  /** The response field sent as the body, or undefined for the whole response. */
  responseBody: DescField | undefined;
  /** Whether this is the primary binding (false for `additional_bindings`). */
  primary: boolean;
}

/**
 * Reads the `google.api.http` annotation of every method of `services` and returns one binding
 * per rule and additional binding. Methods without an annotation are internal and yield none.
 * Throws when an annotation names a field the request or response does not have, so a broken
 * contract stops the edge at start.
 */
export function readHttpBindings(services: readonly DescService[]): HttpBinding[] {
  const bindings: HttpBinding[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      const rule = httpRuleOf(method);
      if (!rule) continue;
      bindings.push(toBinding(method, rule, true));
      for (const extra of rule.additionalBindings) bindings.push(toBinding(method, extra, false));
    }
  }
  return bindings;
}

/** The method's `google.api.http` rule, or undefined for an internal RPC. */
export function httpRuleOf(method: DescMethod): HttpRule | undefined {
  const rule = getOption(method, http);
  return rule.pattern.case === undefined ? undefined : rule;
}

function toBinding(method: DescMethod, rule: HttpRule, primary: boolean): HttpBinding {
  const where = `${method.parent.typeName}.${method.name}`;
  let verb: string;
  let path: string;
  switch (rule.pattern.case) {
    case "get":
    case "put":
    case "post":
    case "delete":
    case "patch":
      verb = rule.pattern.case.toUpperCase();
      path = rule.pattern.value;
      break;
    case "custom":
      verb = rule.pattern.value.kind.toUpperCase();
      path = rule.pattern.value.path;
      break;
    default:
      throw new Error(`${where}: http rule without a pattern`);
  }
  const template = parsePathTemplate(path);
  for (const variable of template.variables) {
    const field = resolveFieldPath(method.input, variable.fieldPath);
    if (!field || (field.fieldKind !== "scalar" && field.fieldKind !== "enum")) {
      throw new Error(`${where}: path variable {${variable.fieldPath}} is not a singular scalar`);
    }
  }
  let body: HttpBinding["body"] = "";
  if (rule.body === "*") body = "*";
  else if (rule.body !== "") {
    const field = method.input.fields.find((f) => f.name === rule.body);
    if (!field) throw new Error(`${where}: body "${rule.body}" is not a request field`);
    body = field;
  }
  let responseBody: DescField | undefined;
  if (rule.responseBody !== "") {
    responseBody = method.output.fields.find((f) => f.name === rule.responseBody);
    if (!responseBody) {
      throw new Error(`${where}: response_body "${rule.responseBody}" is not a response field`);
    }
  }
  return { method, verb, template, body, responseBody, primary };
}

/**
 * The field a dotted path of proto names (`book.author.name`) leads to, through singular
 * message fields; undefined when any step is missing.
 */
export function resolveFieldPath(
  message: DescMethod["input"],
  fieldPath: string,
): DescField | undefined {
  let current = message;
  const names = fieldPath.split(".");
  for (let k = 0; k < names.length; k++) {
    const field = current.fields.find((f) => f.name === names[k] || f.jsonName === names[k]);
    if (!field) return undefined;
    if (k === names.length - 1) return field;
    if (field.fieldKind !== "message") return undefined;
    current = field.message;
  }
  return undefined;
}
