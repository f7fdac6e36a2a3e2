/**
 * One environment variable a service reads: its name, and how to turn the raw string into a
 * typed value or explain why it cannot.
 */
export interface EnvVar<T> {
  readonly name: string;
  /** Returns the parsed value, or a string saying what is wrong with `raw`. */
  parse(raw: string | undefined): { value: T } | { problem: string };
}

interface Common<T> {
  /** Used when the variable is unset or empty; without one the variable is required. */
  default?: T;
}

/** Thrown by {@link loadConfig} with every problem found, so one failed boot shows them all. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function variable<T>(
  name: string,
  options: Common<T>,
  convert: (raw: string) => { value: T } | { problem: string },
): EnvVar<T> {
  return {
    name,
    parse(raw) {
      if (raw === undefined || raw === "") {
        return options.default !== undefined
          ? { value: options.default }
          : { problem: `${name} is required but not set` };
      }
      const result = convert(raw);
      return "problem" in result ? { problem: `${name} ${result.problem}` } : result;
    },
  };
}

/** A string variable. */
export function str(name: string, options: Common<string> = {}): EnvVar<string> {
  return variable<string>(name, options, (raw) => ({ value: raw }));
}

/** An integer variable within `[min, max]`. */
export function int(
  name: string,
  options: Common<number> & { min?: number; max?: number } = {},
): EnvVar<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
  return variable<number>(name, options, (raw) => {
    const value = Number(raw.trim());
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value)) {
      return { problem: `must be an integer, got ${JSON.stringify(raw)}` };
    }
    if (value < min || value > max) {
      return { problem: `must be between ${min} and ${max}, got ${value}` };
    }
    return { value };
  });
}

/** A TCP port (0–65535; 0 asks the OS for a free one). */
export function port(name: string, options: Common<number> = {}): EnvVar<number> {
  return int(name, { ...options, min: 0, max: 65535 });
}

/**
 * GRPC_PORT and METRICS_PORT as the runtime contract has them (services/README.md): the
 * metrics port defaults to the gRPC port + 1000, or to 0 (any free port) when that is 0. Spread
 * into a service's spec: `loadConfig({ ...servicePorts(50052, env), ... }, env)`.
 */
export function servicePorts(
  defaultGrpcPort: number,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { grpcPort: EnvVar<number>; metricsPort: EnvVar<number> } {
  const grpcPort = port("GRPC_PORT", { default: defaultGrpcPort });
  // An invalid GRPC_PORT is reported by loadConfig; the metrics default only needs a number.
  const parsed = grpcPort.parse(env.GRPC_PORT);
  const grpc = "value" in parsed ? parsed.value : defaultGrpcPort;
  return { grpcPort, metricsPort: port("METRICS_PORT", { default: grpc === 0 ? 0 : grpc + 1000 }) };
}

/**
 * KAFKA_GROUP_ID and KAFKA_FROM_BEGINNING, the runtime contract's consumer settings
 * (services/README.md): the group, one per service in production and unique per run in tests,
 * and where a new group starts reading: the beginning by default, missing nothing; tests start
 * at the end. Spread into a consuming service's spec.
 */
export function consumerGroup(defaultGroupId: string): {
  kafkaGroupId: EnvVar<string>;
  kafkaFromBeginning: EnvVar<boolean>;
} {
  return {
    kafkaGroupId: str("KAFKA_GROUP_ID", { default: defaultGroupId }),
    kafkaFromBeginning: bool("KAFKA_FROM_BEGINNING", { default: true }),
  };
}

/** A URL variable; `protocols` (e.g. `["postgres:", "postgresql:"]`) restricts the scheme. */
export function url(
  name: string,
  options: Common<string> & { protocols?: readonly string[] } = {},
): EnvVar<string> {
  return variable<string>(name, options, (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return { problem: `must be a URL, got ${JSON.stringify(raw)}` };
    }
    if (options.protocols && !options.protocols.includes(parsed.protocol)) {
      return { problem: `must use ${options.protocols.join(" or ")}, got ${parsed.protocol}` };
    }
    return { value: raw };
  });
}

/** One of a fixed set of values, e.g. a log level. */
export function oneOf<const V extends string>(
  name: string,
  values: readonly V[],
  options: Common<V> = {},
): EnvVar<V> {
  return variable<V>(name, options, (raw) =>
    (values as readonly string[]).includes(raw)
      ? { value: raw as V }
      : { problem: `must be one of ${values.join(", ")}, got ${JSON.stringify(raw)}` },
  );
}

/** A boolean: true/false, 1/0, yes/no (any case). */
export function bool(name: string, options: Common<boolean> = {}): EnvVar<boolean> {
  return variable<boolean>(name, options, (raw) => {
    const lower = raw.trim().toLowerCase();
    if (["true", "1", "yes"].includes(lower)) return { value: true };
    if (["false", "0", "no"].includes(lower)) return { value: false };
    return { problem: `must be true or false, got ${JSON.stringify(raw)}` };
  });
}

/** The typed configuration object described by a spec of {@link EnvVar}s. */
export type ConfigOf<Spec extends Record<string, EnvVar<unknown>>> = {
  readonly [K in keyof Spec]: Spec[K] extends EnvVar<infer T> ? T : never;
};

/**
 * Reads and validates a service's configuration once at boot. Every variable is checked before
 * anything throws, so a misconfigured deployment reports all its mistakes in one crash:
 *
 * ```ts
 * const config = loadConfig({ port: port("PORT", { default: 50052 }), db: url("DATABASE_URL") });
 * ```
 */
export function loadConfig<Spec extends Record<string, EnvVar<unknown>>>(
  spec: Spec,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConfigOf<Spec> {
  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, envVar] of Object.entries(spec)) {
    const result = envVar.parse(env[envVar.name]);
    if ("problem" in result) problems.push(result.problem);
    else config[key] = result.value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config) as ConfigOf<Spec>;
}
