/**
 * Reads the Kubernetes and Istio manifests as plain objects, and walks kustomizations the way
 * `kustomize build` resolves their `resources`, so the tests can check what would be applied.
 */

import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";

/** A Kubernetes object as parsed YAML, with the file it came from. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field by the tests
  spec?: any;
  data?: Record<string, string>;
  file: string;
}

/** Every YAML document of `file`, throwing on a YAML error. */
export function readYamlFile(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  const out: Manifest[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as Manifest | null;
    if (value) out.push({ ...value, file });
  }
  return out;
}

/** The kustomization file of a directory. */
export function kustomizationOf(dir: string): { resources?: string[] } & Record<string, unknown> {
  const [doc] = readYamlFile(join(dir, "kustomization.yaml"));
  if (!doc) throw new Error(`${dir}/kustomization.yaml is empty`);
  return doc as unknown as { resources?: string[] };
}

/**
 * Follows `resources` from the kustomization in `dir`: returns every YAML file reached, and the
 * entries that name neither a file nor a directory with a kustomization.yaml.
 */
export function walkKustomization(dir: string): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  const visit = (at: string) => {
    for (const entry of kustomizationOf(at).resources ?? []) {
      const target = resolve(at, entry);
      if (existsSync(target) && statSync(target).isFile()) files.push(target);
      else if (existsSync(join(target, "kustomization.yaml"))) visit(target);
      else missing.push(`${at}: ${entry}`);
    }
  };
  visit(resolve(dir));
  return { files, missing };
}

/** The YAML files of a directory (not recursive), kustomization.yaml excluded. */
export function yamlFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .map((f) => resolve(dir, f));
}

/** Every object the base applies (base files plus deploy/istio), from the kustomize walk. */
export function loadBase(baseDir: string): Manifest[] {
  return walkKustomization(baseDir).files.flatMap(readYamlFile);
}

/** `kubectl kustomize <dir>` parsed, or undefined when kubectl is not installed. */
export function renderWithKubectl(dir: string): Manifest[] | undefined {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore", timeout: 10_000 });
  } catch {
    return undefined;
  }
  const out = execFileSync("kubectl", ["kustomize", dir], {
    encoding: "utf8",
    timeout: 30_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return parseAllDocuments(out).map((d) => ({ ...(d.toJS() as Manifest), file: dir }));
}

/** Objects of one kind, by name. */
export function byKind(manifests: readonly Manifest[], kind: string): Map<string, Manifest> {
  return new Map(manifests.filter((m) => m.kind === kind).map((m) => [m.metadata.name, m]));
}
