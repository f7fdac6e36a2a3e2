/**
 * One segment of a compiled `google.api.http` path template: a fixed word, `*` (exactly one
 * segment) or `**` (the rest of the path, possibly empty).
 */
export type TemplateSegment =
  | { kind: "literal"; value: string }
  | { kind: "single" }
  | { kind: "rest" };

/** A `{field.path=...}` variable: the request field it fills and the segments it spans. */
export interface TemplateVariable {
  /** Dotted proto field path, e.g. `product_id` or `book.name`. */
  fieldPath: string;
  /** Index of its first segment. */
  start: number;
  /** Index one past its last segment; for a variable ending in `**`, the segment count. */
  end: number;
}

/** A parsed path template, ready to match request paths. */
export interface PathTemplate {
  /** The template as written in the proto. */
  source: string;
  segments: TemplateSegment[];
  variables: TemplateVariable[];
  /** The custom verb after the last `:`, e.g. `cancel` in `/v1/{name}:cancel`; empty if none. */
  verb: string;
}

/**
 * Parses a path template per the grammar in google/api/http.proto:
 * `Template = "/" Segments [ Verb ]`, where a segment is `*`, `**`, a literal or a variable
 * `{field.path}` / `{field.path=segments}`. Throws on a malformed template, so a bad annotation
 * stops the edge at start rather than misrouting at run time.
 */
export function parsePathTemplate(source: string): PathTemplate {
  if (!source.startsWith("/")) throw new Error(`path template "${source}" must start with "/"`);
  let body = source.slice(1);
  let verb = "";
  // A verb's ":" comes after the last "/" and outside braces.
  const lastSlash = body.lastIndexOf("/");
  const lastBrace = body.lastIndexOf("}");
  const colon = body.lastIndexOf(":");
  if (colon > lastSlash && colon > lastBrace) {
    verb = body.slice(colon + 1);
    body = body.slice(0, colon);
    if (!/^[A-Za-z0-9_.~-]+$/.test(verb)) throw new Error(`path template "${source}": bad verb`);
  }
  const segments: TemplateSegment[] = [];
  const variables: TemplateVariable[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`path template "${source}": ${why}`);
  };
  const readSegments = (stopAtBrace: boolean) => {
    for (;;) {
      if (body[i] === "{") {
        if (stopAtBrace) fail("nested variables are not allowed");
        const close = body.indexOf("}", i);
        if (close < 0) fail("unclosed {");
        const inner = body.slice(i + 1, close);
        const eq = inner.indexOf("=");
        const fieldPath = eq < 0 ? inner : inner.slice(0, eq);
        if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(fieldPath)) {
          fail(`bad variable name "${fieldPath}"`);
        }
        const start = segments.length;
        if (eq < 0) segments.push({ kind: "single" });
        else {
          const saved = { body, i };
          body = inner.slice(eq + 1);
          i = 0;
          readSegments(true);
          if (i !== body.length) fail(`bad variable pattern in {${inner}}`);
          ({ body, i } = { body: saved.body, i: close + 1 });
        }
        if (variables.some((v) => v.fieldPath === fieldPath)) fail(`${fieldPath} bound twice`);
        variables.push({ fieldPath, start, end: segments.length });
        if (eq < 0) i = close + 1;
      } else {
        let end = i;
        while (end < body.length && body[end] !== "/" && !(stopAtBrace && body[end] === "}")) {
          end++;
        }
        const word = body.slice(i, end);
        if (word === "*") segments.push({ kind: "single" });
        else if (word === "**") segments.push({ kind: "rest" });
        else if (/^[A-Za-z0-9_.~@!$&'()+,;=-]+$/.test(word) && word !== "." && word !== "..") {
          segments.push({ kind: "literal", value: word });
        } else fail(`bad segment "${word}"`);
        i = end;
      }
      if (i < body.length && body[i] === "/") i++;
      else break;
    }
  };
  readSegments(false);
  if (i !== body.length) fail(`unexpected "${body.slice(i)}"`);
  const restAt = segments.findIndex((s) => s.kind === "rest");
  if (restAt >= 0 && restAt !== segments.length - 1) fail('"**" must be the last segment');
  return { source, segments, variables, verb };
}

/**
 * Matches a request path (already split on "/" and percent-decoded, verb removed) against a
 * template. Returns the variables' values (multi-segment values joined with "/"), or undefined.
 */
export function matchPathTemplate(
  template: PathTemplate,
  parts: readonly string[],
): Record<string, string> | undefined {
  const { segments } = template;
  const last = segments[segments.length - 1];
  const hasRest = last?.kind === "rest";
  if (hasRest ? parts.length < segments.length - 1 : parts.length !== segments.length) {
    return undefined;
  }
  for (let k = 0; k < segments.length; k++) {
    const segment = segments[k]!;
    if (segment.kind === "rest") break;
    const part = parts[k]!;
    if (segment.kind === "literal" ? part !== segment.value : part === "") return undefined;
  }
  const values: Record<string, string> = {};
  for (const v of template.variables) {
    const end = hasRest && v.end === segments.length ? parts.length : v.end;
    values[v.fieldPath] = parts.slice(v.start, end).join("/");
  }
  return values;
}

/**
 * Orders two templates for matching: at the first position where they differ, a literal beats
 * `*`, which beats the template's end, which beats `**` (an exact-length template is more
 * specific than one whose `**` would match the empty rest). Sorting routes with it makes matching
 * literal-first and deterministic, whatever order the protos declare them in.
 */
export function compareSpecificity(a: PathTemplate, b: PathTemplate): number {
  const rank = (s: TemplateSegment | undefined) =>
    s === undefined ? 1.5 : s.kind === "literal" ? 0 : s.kind === "single" ? 1 : 2;
  const n = Math.max(a.segments.length, b.segments.length);
  for (let k = 0; k < n; k++) {
    const diff = rank(a.segments[k]) - rank(b.segments[k]);
    if (diff !== 0) return diff;
  }
  if (a.verb !== b.verb) return a.verb === "" ? 1 : -1;
  return a.source < b.source ? -1 : a.source > b.source ? 1 : 0;
}

/** The template in OpenAPI form: every variable as `{field.path}`, patterns dropped. */
export function openApiPath(template: PathTemplate): string {
  const out: string[] = [];
  for (let k = 0; k < template.segments.length; ) {
    const variable = template.variables.find((v) => v.start === k);
    if (variable) {
      out.push(`{${variable.fieldPath}}`);
      k = Math.max(variable.end, k + 1);
      continue;
    }
    const s = template.segments[k]!;
    out.push(s.kind === "literal" ? s.value : s.kind === "single" ? "*" : "**");
    k++;
  }
  return `/${out.join("/")}${template.verb ? `:${template.verb}` : ""}`;
}
