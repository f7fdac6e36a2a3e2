/**
 * Derives who calls whom from the code itself, so the mesh policies can be checked against what
 * the processes really do rather than against a hand-kept list: a caller is a process whose
 * sources call `createClient(<Name>Service, ...)` (the edge: every service it proxies), and the
 * RPCs it may call are the methods of that service its sources name (`.reserveStock(`).
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { httpRuleOf } from "../../edge/src/http-rules.ts";
import { UPSTREAM_SERVICES } from "../../edge/src/upstreams.ts";

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** Path the edge's readiness probe calls on every required service (edge/src/readiness.ts). */
export const HEALTH_CHECK_PATH = "/grpc.health.v1.Health/Check";

/** One deployable process: a directory under services/, or the edge. */
export interface Workload {
  name: string;
  /** Its `src/` directory. */
  src: string;
}

/** Every process that gets a Deployment: each directory of services/ with a src/main.ts, and the edge. */
export function listWorkloads(): Workload[] {
  const services = readdirSync(join(ROOT, "services"))
    .filter((name) => isFile(join(ROOT, "services", name, "src", "main.ts")))
    .sort()
    .map((name) => ({ name, src: join(ROOT, "services", name, "src") }));
  return [...services, { name: "edge", src: join(ROOT, "edge", "src") }];
}

/** The contract of a domain service by its short name (`catalog`), from the edge's table. */
export function serviceDescriptor(name: string): DescService {
  const spec = UPSTREAM_SERVICES.find((u) => u.name === name);
  if (!spec) throw new Error(`no contract for service ${name} in edge/src/upstreams.ts`);
  return spec.service;
}

/** The default gRPC port of a domain service (services/README.md's runtime contract). */
export function defaultPort(name: string): number {
  const spec = UPSTREAM_SERVICES.find((u) => u.name === name);
  if (!spec) throw new Error(`no default port for service ${name}`);
  return spec.port;
}

/** The HTTP/2 path of an RPC as Envoy and AuthorizationPolicy see it. */
export function rpcPath(service: DescService, method: string): string {
  return `/${service.typeName}/${method}`;
}

/** Paths of the RPCs the edge exposes (annotated with google.api.http, unary). */
export function publicPaths(service: DescService): string[] {
  return service.methods
    .filter((m) => m.methodKind === "unary" && httpRuleOf(m) !== undefined)
    .map((m) => rpcPath(service, m.name));
}

/** Paths of the RPCs without an http annotation: never routed by the edge. */
export function internalPaths(service: DescService): string[] {
  return service.methods
    .filter((m) => httpRuleOf(m) === undefined)
    .map((m) => rpcPath(service, m.name));
}

/** The non-test TypeScript sources of a directory, concatenated. */
export function readSources(dir: string): string {
  let text = "";
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) text += readSources(path);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
      text += `${readFileSync(path, "utf8")}\n`;
    }
  }
  return text;
}

/**
 * The caller graph: for each workload, the services it calls and, per callee, the RPC paths it
 * uses. The edge calls every public RPC of every service it proxies plus the health check;
 * a service calls the methods of its clients that its sources name, plus `GetJwks` when it
 * verifies tokens with `jwksFromUserService`.
 */
export function deriveCallerGraph(
  workloads: readonly Workload[],
): Map<string, Map<string, Set<string>>> {
  const deployed = new Set(workloads.map((w) => w.name));
  const graph = new Map<string, Map<string, Set<string>>>();
  for (const workload of workloads) {
    const source = readSources(workload.src);
    const callees = new Map<string, Set<string>>();
    const add = (callee: string, path: string) => {
      if (!callees.has(callee)) callees.set(callee, new Set());
      callees.get(callee)!.add(path);
    };
    if (workload.name === "edge") {
      for (const u of UPSTREAM_SERVICES) {
        if (!deployed.has(u.name)) continue;
        for (const path of publicPaths(u.service)) add(u.name, path);
        add(u.name, HEALTH_CHECK_PATH);
      }
    }
    for (const match of source.matchAll(/createClient\(\s*(\w+)Service\b/g)) {
      const callee = match[1]!.toLowerCase();
      const service = serviceDescriptor(callee);
      for (const method of service.methods) {
        if (new RegExp(`\\.${method.localName}\\(`).test(source)) {
          add(callee, rpcPath(service, method.name));
        }
      }
      if (callee === "user" && source.includes("jwksFromUserService(")) {
        add(callee, rpcPath(service, "GetJwks"));
      }
      if (!callees.has(callee)) callees.set(callee, new Set());
    }
    graph.set(workload.name, callees);
  }
  return graph;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
