import type { HttpBinding } from "./http-rules.ts";
import { compareSpecificity, matchPathTemplate, type PathTemplate } from "./path-template.ts";

/** What a request path and verb resolve to. */
export type RouteLookup =
  | { kind: "match"; binding: HttpBinding; pathValues: Record<string, string> }
  /** The path exists for other verbs; `allow` lists them (for the `Allow` header). */
  | { kind: "method_not_allowed"; allow: string[] }
  | { kind: "not_found" }
  /** The path cannot be decoded (bad percent-encoding, dot segments). */
  | { kind: "bad_path"; reason: string };

/** The REST routes of the edge, matched literal-first. */
export interface RouteTable {
  /** Every binding, in matching order (most specific first). */
  readonly routes: readonly HttpBinding[];
  /** Resolves `verb` and the request's path (no query string, still percent-encoded). */
  lookup(verb: string, rawPath: string): RouteLookup;
}

/**
 * Builds the route table from the annotations' bindings. Routes are sorted by
 * {@link compareSpecificity}, so `/shipments/track/{n}` wins over `/shipments/{id}/tracking`
 * for `/shipments/track/x` however the protos order them. Two bindings with the same verb and
 * the same path shape would make one unreachable; that throws at start.
 */
export function createRouteTable(bindings: readonly HttpBinding[]): RouteTable {
  const routes = [...bindings].sort(
    (a, b) => compareSpecificity(a.template, b.template) || (a.verb < b.verb ? -1 : 1),
  );
  const seen = new Map<string, HttpBinding>();
  for (const route of routes) {
    const key = `${route.verb} ${shapeOf(route.template)}`;
    const other = seen.get(key);
    if (other) {
      throw new Error(
        `route conflict: ${route.verb} ${route.template.source} (${route.method.name}) and ` +
          `${other.template.source} (${other.method.name}) match the same requests`,
      );
    }
    seen.set(key, route);
  }

  return {
    routes,
    lookup(verb, rawPath) {
      const split = splitPath(rawPath);
      if ("reason" in split) return { kind: "bad_path", reason: split.reason };
      const allow = new Set<string>();
      for (const route of routes) {
        const parts = partsFor(route.template, split);
        if (!parts) continue;
        const pathValues = matchPathTemplate(route.template, parts);
        if (!pathValues) continue;
        if (route.verb === verb) return { kind: "match", binding: route, pathValues };
        allow.add(route.verb);
      }
      if (allow.size > 0) return { kind: "method_not_allowed", allow: [...allow].sort() };
      return { kind: "not_found" };
    },
  };
}

interface SplitPath {
  parts: string[];
  /** The custom verb after the last segment's ":", or undefined when it has none. */
  verb: string | undefined;
  /** The parts with the verb removed from the last one. */
  partsWithoutVerb: string[];
}

function splitPath(rawPath: string): SplitPath | { reason: string } {
  if (!rawPath.startsWith("/")) return { reason: "path must start with /" };
  const raw = rawPath.slice(1).split("/");
  const parts: string[] = [];
  for (const segment of raw) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return { reason: `path segment "${segment}" has malformed percent-encoding` };
    }
    // Dot segments never name a resource; refusing them keeps traversal out of every id.
    if (decoded === "." || decoded === "..") return { reason: "path has a dot segment" };
    parts.push(decoded);
  }
  const lastRaw = raw[raw.length - 1] ?? "";
  const colon = lastRaw.lastIndexOf(":");
  if (colon < 0) return { parts, verb: undefined, partsWithoutVerb: parts };
  const partsWithoutVerb = [...parts];
  partsWithoutVerb[parts.length - 1] = decodeURIComponent(lastRaw.slice(0, colon));
  return { parts, verb: lastRaw.slice(colon + 1), partsWithoutVerb };
}

function partsFor(template: PathTemplate, split: SplitPath): string[] | undefined {
  if (template.verb === "") return split.parts;
  return split.verb === template.verb ? split.partsWithoutVerb : undefined;
}

function shapeOf(template: PathTemplate): string {
  const shape = template.segments
    .map((s) => (s.kind === "literal" ? s.value : s.kind === "single" ? "*" : "**"))
    .join("/");
  return template.verb ? `${shape}:${template.verb}` : shape;
}
