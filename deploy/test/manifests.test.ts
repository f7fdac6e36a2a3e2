import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  defaultPort,
  deriveCallerGraph,
  internalPaths,
  listWorkloads,
  ROOT,
  serviceDescriptor,
} from "./caller-graph.ts";
import {
  byKind,
  loadBase,
  type Manifest,
  readYamlFile,
  renderWithKubectl,
  walkKustomization,
  yamlFilesIn,
} from "./load-manifests.ts";

const NS = "shopmesh";
const BASE = join(ROOT, "deploy/k8s/base");
const ISTIO = join(ROOT, "deploy/istio");
const INGRESS_GATEWAY = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";

const workloads = listWorkloads();
const names = workloads.map((w) => w.name);
const services = names.filter((n) => n !== "edge");
const base = loadBase(BASE);
const graph = deriveCallerGraph(workloads);

const portOf = (name: string) => (name === "edge" ? 8080 : defaultPort(name));
const hostOf = (name: string) => `${name}.${NS}.svc.cluster.local`;
const get = (kind: string, name: string): Manifest => {
  const m = byKind(base, kind).get(name);
  assert.ok(m, `${kind} ${name} is missing from deploy/k8s/base (or deploy/istio)`);
  return m;
};
// biome-ignore lint/suspicious/noExplicitAny: a container spec from parsed YAML
const containerOf = (name: string): any => get("Deployment", name).spec.template.spec.containers[0];

/**
 * The ports a process listens on with an empty environment, from its own config loader (the
 * exported `load*Config` / `readConfig` of src/config.ts); a metrics port of -1 means "gRPC + 1000".
 */
async function configDefaults(name: string): Promise<{ grpcPort: number; metricsPort?: number }> {
  const module = (await import(
    join(workloads.find((w) => w.name === name)!.src, "config.ts")
  )) as Record<string, unknown>;
  const loaders = Object.entries(module).filter(
    ([k, v]) => /^(load|read)\w*Config$/.test(k) && typeof v === "function",
  );
  assert.equal(loaders.length, 1, `${name}/src/config.ts exports ${loaders.length} config loaders`);
  const config = (loaders[0]![1] as (env: object) => Record<string, number>)({});
  if (name === "edge") return { grpcPort: config.port! };
  const grpcPort = config.grpcPort!;
  return {
    grpcPort,
    metricsPort: config.metricsPort === -1 ? grpcPort + 1000 : config.metricsPort!,
  };
}

describe("every process has a complete Kubernetes workload", () => {
  test("there is a workload for each service directory and the edge", () => {
    assert.ok(services.length >= 8, `only ${services.length} services found under services/`);
    assert.deepEqual([...byKind(base, "Deployment").keys()].sort(), [...names].sort());
  });

  for (const name of names) {
    test(`${name}: the gRPC (edge: HTTP) and metrics ports are its config's defaults`, async () => {
      const { grpcPort, metricsPort } = await configDefaults(name);
      assert.equal(grpcPort, portOf(name));
      if (name !== "edge") {
        assert.equal(metricsPort, portOf(name) + 1000);
        const data = get("ConfigMap", `${name}-config`).data!;
        assert.equal(data.GRPC_PORT, String(grpcPort));
        assert.equal(data.METRICS_PORT, String(metricsPort));
      }
    });

    test(`${name}: readiness and liveness probe the serving port (native grpc for services)`, () => {
      const c = containerOf(name);
      for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
        assert.ok(c[probe], `${name} has no ${probe}`);
        if (name === "edge") {
          assert.equal(
            c[probe].httpGet?.port,
            "http-edge",
            `${name} ${probe} is not HTTP on http-edge`,
          );
        } else {
          assert.equal(
            c[probe].grpc?.port,
            portOf(name),
            `${name} ${probe} is not grpc on ${portOf(name)}`,
          );
        }
      }
      const ports = new Map(
        c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]),
      );
      const portName = name === "edge" ? "http-edge" : `grpc-${name}`;
      assert.equal(ports.get(portName), portOf(name));
      if (name !== "edge") assert.equal(ports.get("http-metrics"), portOf(name) + 1000);
    });

    test(`${name}: Service port is named ${name === "edge" ? "http-" : "grpc-"}* and scrape annotations point at the metrics port`, () => {
      const svc = get("Service", name);
      const main = svc.spec.ports.find((p: { port: number }) => p.port === portOf(name));
      assert.ok(main, `${name} Service does not expose ${portOf(name)}`);
      assert.match(main.name, name === "edge" ? /^http-/ : /^grpc-/);
      const metricsPort = name === "edge" ? portOf(name) : portOf(name) + 1000;
      if (name !== "edge") {
        const metrics = svc.spec.ports.find((p: { name: string }) => p.name === "http-metrics");
        assert.equal(metrics?.port, metricsPort);
      }
      const annotations = get("Deployment", name).spec.template.metadata.annotations;
      assert.equal(annotations["prometheus.io/scrape"], "true");
      assert.equal(annotations["prometheus.io/port"], String(metricsPort));
      assert.equal(svc.spec.selector["app.kubernetes.io/name"], name);
    });

    test(`${name}: own ServiceAccount, HPA (min 2, CPU) and PDB (minAvailable 1) over its pods`, () => {
      const deployment = get("Deployment", name);
      assert.ok(get("ServiceAccount", name));
      assert.equal(deployment.spec.template.spec.serviceAccountName, name);
      const hpa = get("HorizontalPodAutoscaler", name);
      assert.equal(hpa.spec.scaleTargetRef.name, name);
      assert.ok(hpa.spec.minReplicas >= 2);
      assert.equal(hpa.spec.metrics[0].resource.name, "cpu");
      const pdb = get("PodDisruptionBudget", name);
      assert.equal(pdb.spec.minAvailable, 1);
      const podLabels = deployment.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels))
        assert.equal(podLabels[k], v);
    });

    test(`${name}: non-root, read-only root filesystem, grace period above the shutdown bound`, () => {
      const pod = get("Deployment", name).spec.template.spec;
      const c = containerOf(name);
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      assert.ok(c.resources.requests.cpu && c.resources.limits.memory);
      // platform/src/shutdown.ts bounds the shutdown at 25 s; preStop sleeps before SIGTERM.
      const preStop = Number(c.lifecycle.preStop.exec.command[1]);
      assert.ok(pod.terminationGracePeriodSeconds > 25 + preStop);
      assert.equal(c.image, `shopmesh/${name}`);
    });

    test(`${name}: every peer address its config reads is set to the peer's Service`, () => {
      const config = readFileSync(
        join(workloads.find((w) => w.name === name)!.src, "config.ts"),
        "utf8",
      );
      const read = [...config.matchAll(/"([A-Z]+)_ADDR"/g)].map((m) => m[1]!.toLowerCase());
      const peers = name === "edge" ? services : read.filter((p) => services.includes(p));
      const data = get("ConfigMap", `${name}-config`).data!;
      for (const peer of peers) {
        assert.equal(
          data[`${peer.toUpperCase()}_ADDR`],
          `${hostOf(peer)}:${portOf(peer)}`,
          `${name} -> ${peer}`,
        );
      }
    });
  }
});

/** Allowed (caller -> callee -> paths) from the AuthorizationPolicies, checking rule shapes. */
function allowedEdges(policies: Manifest[]): Map<string, Map<string, Set<string>>> {
  const accounts = new Set(byKind(base, "ServiceAccount").keys());
  const allowed = new Map<string, Map<string, Set<string>>>();
  for (const policy of policies) {
    const callee = policy.spec.selector?.matchLabels?.["app.kubernetes.io/name"];
    assert.equal(policy.spec.action, "ALLOW", `${policy.metadata.name} is not an ALLOW policy`);
    assert.ok(names.includes(callee), `${policy.metadata.name} selects no shopmesh workload`);
    for (const rule of policy.spec.rules) {
      assert.equal(rule.from?.length, 1, `${policy.metadata.name}: every rule names one source`);
      const source = rule.from[0].source;
      const operation = rule.to?.[0]?.operation;
      assert.ok(
        operation?.paths?.length,
        `${policy.metadata.name}: a rule without paths allows everything`,
      );
      if (source.namespaces) {
        // Prometheus: GET /metrics on the metrics port only.
        const metricsPort = callee === "edge" ? 8080 : portOf(callee) + 1000;
        assert.deepEqual(operation, {
          ports: [String(metricsPort)],
          methods: ["GET"],
          paths: ["/metrics"],
        });
        continue;
      }
      for (const principal of source.principals) {
        if (principal === INGRESS_GATEWAY) {
          assert.equal(callee, "edge", "only the edge is reachable from the ingress gateway");
          continue;
        }
        const match = principal.match(/^cluster\.local\/ns\/shopmesh\/sa\/([a-z-]+)$/);
        assert.ok(
          match && accounts.has(match[1]!),
          `${policy.metadata.name}: no ServiceAccount for ${principal}`,
        );
        const caller = match[1]!;
        if (!allowed.has(caller)) allowed.set(caller, new Map());
        const paths = allowed.get(caller)!.get(callee) ?? new Set<string>();
        for (const p of operation.paths) paths.add(p);
        allowed.get(caller)!.set(callee, paths);
      }
    }
  }
  return allowed;
}

describe("Istio", () => {
  const policies = [...byKind(base, "AuthorizationPolicy").values()].filter((p) => p.spec.rules);

  test("mTLS is STRICT for the whole namespace, and everything not allowed is denied", () => {
    const peer = get("PeerAuthentication", "default");
    assert.equal(peer.spec.mtls.mode, "STRICT");
    assert.equal(peer.spec.portLevelMtls, undefined);
    assert.equal(peer.spec.selector, undefined);
    assert.deepEqual(get("AuthorizationPolicy", "deny-by-default").spec, {});
  });

  test("each service has one ALLOW policy, a DestinationRule and a VirtualService for its host", () => {
    for (const name of names) {
      const selected = policies.filter(
        (p) => p.spec.selector.matchLabels["app.kubernetes.io/name"] === name,
      );
      assert.equal(selected.length, 1, `${name} has ${selected.length} ALLOW policies`);
      assert.equal(get("DestinationRule", name).spec.host, hostOf(name));
      assert.ok(
        get("DestinationRule", name).spec.trafficPolicy.outlierDetection.consecutiveGatewayErrors >
          0,
      );
    }
    for (const name of services) {
      const vs = get("VirtualService", name);
      assert.deepEqual(vs.spec.hosts, [hostOf(name)]);
      assert.equal(vs.spec.http[0].route[0].destination.port.number, portOf(name));
    }
  });

  test("mesh retries only requests that never reached the service (clients retry reads)", () => {
    for (const vs of byKind(base, "VirtualService").values()) {
      for (const route of vs.spec.http) {
        const on = String(route.retries?.retryOn ?? "").split(",");
        assert.deepEqual(
          on.filter((c) => !["connect-failure", "refused-stream"].includes(c)),
          [],
          vs.metadata.name,
        );
      }
    }
  });

  test("the policies allow exactly the caller graph in the code: every call, nothing more", () => {
    const allowed = allowedEdges(policies);
    const asObject = (g: Map<string, Map<string, Set<string>>>) =>
      Object.fromEntries(
        [...g]
          .filter(([, callees]) => callees.size > 0)
          .map(([caller, callees]) => [
            caller,
            Object.fromEntries([...callees].map(([c, p]) => [c, [...p].sort()])),
          ]),
      );
    assert.deepEqual(asObject(allowed), asObject(graph));
    // The graph itself must reflect the saga and the cart: a broken derivation would pass above.
    assert.ok(
      graph.get("order")?.get("payment")?.has("/shopmesh.payment.v1.PaymentService/Charge"),
    );
    assert.ok(graph.get("cart")?.get("order")?.has("/shopmesh.order.v1.OrderService/PlaceOrder"));
    assert.ok(graph.get("user")?.has("payment"));
  });

  test("internal RPCs are allowed only from the services that call them, never from the edge", () => {
    const allowed = allowedEdges(policies);
    const internal = services.flatMap((s) => internalPaths(serviceDescriptor(s)));
    for (const expected of [
      "ReserveStock",
      "Charge",
      "Refund",
      "CreateShipment",
      "BatchGetVariants",
      "GetPaymentMethodToken",
      "DescribeCardToken",
    ]) {
      assert.ok(
        internal.some((p) => p.endsWith(`/${expected}`)),
        `${expected} is not internal`,
      );
    }
    for (const [callee, paths] of allowed.get("edge") ?? []) {
      for (const p of paths)
        assert.ok(!internal.includes(p), `edge may call internal ${p} on ${callee}`);
    }
    const chargers = [...allowed].filter(([, c]) =>
      c.get("payment")?.has("/shopmesh.payment.v1.PaymentService/Charge"),
    );
    assert.deepEqual(
      chargers.map(([caller]) => caller),
      ["order"],
    );
  });

  test("the ingress gateway reaches only the edge's public surface", () => {
    const edge = policies.find((p) => p.metadata.name === "edge")!;
    const fromGateway = edge.spec.rules.find(
      (r: { from: { source: { principals?: string[] } }[] }) =>
        r.from[0]!.source.principals?.includes(INGRESS_GATEWAY),
    );
    assert.ok(fromGateway, "the edge does not admit the ingress gateway");
    for (const p of fromGateway.to[0].operation.paths)
      assert.doesNotMatch(p, /metrics|healthz|readyz|^\*$|^\/\*$/);
    const routes = byKind(base, "VirtualService").get("edge-public")!.spec.http[0];
    const prefixes = routes.match.map(
      (m: { uri: Record<string, string> }) => Object.values(m.uri)[0],
    );
    for (const p of ["/api/", "/.well-known/", "/openapi.json", "/docs", "/shopmesh."])
      assert.ok(prefixes.includes(p), p);
    assert.ok(!prefixes.includes("/") && !prefixes.includes("/metrics"));
  });
});

describe("kustomize and the image recipe", () => {
  test("kustomizations reference only files that exist, and every manifest file is referenced", () => {
    for (const dir of [
      BASE,
      ISTIO,
      join(ROOT, "deploy/k8s/overlays/dev"),
      join(ROOT, "deploy/k8s/overlays/prod"),
    ]) {
      assert.deepEqual(walkKustomization(dir).missing, [], dir);
    }
    const reached = new Set(walkKustomization(BASE).files);
    for (const file of [...yamlFilesIn(BASE), ...yamlFilesIn(ISTIO)])
      assert.ok(reached.has(file), `${file} is not in any kustomization`);
    for (const file of reached) assert.ok(readYamlFile(file).length > 0, `${file} is empty`);
  });

  test("the overlays render: dev one replica without HPA/PDB, prod tagged images (kubectl kustomize when installed)", () => {
    const dev = renderWithKubectl(join(ROOT, "deploy/k8s/overlays/dev"));
    const prod = renderWithKubectl(join(ROOT, "deploy/k8s/overlays/prod"));
    if (dev && prod) {
      assert.equal(byKind(dev, "HorizontalPodAutoscaler").size, 0);
      assert.equal(byKind(dev, "PodDisruptionBudget").size, 0);
      for (const d of byKind(dev, "Deployment").values())
        assert.equal(d.spec.replicas, 1, d.metadata.name);
      for (const d of byKind(prod, "Deployment").values()) {
        assert.match(d.spec.template.spec.containers[0].image, /^shopmesh\/[a-z]+:\d+\.\d+\.\d+$/);
        assert.equal(d.metadata.namespace, NS);
      }
      assert.deepEqual([...byKind(prod, "Deployment").keys()].sort(), [...names].sort());
      assert.equal(byKind(prod, "AuthorizationPolicy").size, names.length + 1);
    } else {
      // No kubectl: check what the overlays ask of kustomize instead of rendering it.
      const images = readYamlFile(
        join(ROOT, "deploy/k8s/overlays/prod/kustomization.yaml"),
      )[0] as unknown as {
        images: { name: string; newTag: string }[];
      };
      assert.deepEqual(
        images.images.map((i) => i.name).sort(),
        names.map((n) => `shopmesh/${n}`).sort(),
      );
    }
  });

  test("the Dockerfile installs every workspace and runs the SERVICE's main through tsx under tini as non-root", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const workspaces = ["gen", "platform", "edge", ...services.map((s) => `services/${s}`)];
    for (const ws of workspaces)
      assert.ok(dockerfile.includes(`COPY ${ws}/package.json ${ws}/`), `${ws} manifest not copied`);
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-/m);
    assert.match(dockerfile, /^ARG SERVICE$/m);
    assert.match(dockerfile, /main="?\/app\/services\/\$\{SERVICE\}\/src\/main\.ts/);
    assert.match(dockerfile, /main=\/app\/edge\/src\/main\.ts/);
    assert.match(dockerfile, /^USER 1000:1000$/m);
    assert.match(dockerfile, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
    assert.match(dockerfile, /^CMD \["node", "--import", "tsx", "\/app\/main\.mjs"\]$/m);
    const ignore = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
    assert.ok(ignore.includes("**/node_modules") && ignore.includes(".git"));
  });
});
