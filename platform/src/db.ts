import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Logger } from "./logger.ts";

/** Where and as whom to connect to Postgres; `undefined` fields fall back to libpq's PG* env. */
export interface DbConnection {
  host?: string;
  port?: number;
  database: string;
  user?: string;
  password?: string;
}

/** A connection plus the pool settings one service process uses for its own database. */
export interface DbConfig extends DbConnection {
  /** Upper bound on pooled connections; keep (replicas x poolSize) under max_connections. */
  poolSize?: number;
  /** Shown in pg_stat_activity, so an operator can tell which service holds a connection. */
  applicationName?: string;
  /** Server-side cap per statement, so a runaway query cannot hold locks forever. */
  statementTimeoutMs?: number;
  /** How long a caller waits for a free pooled connection before failing. */
  connectionTimeoutMs?: number;
  /**
   * Run repeated statements as named prepared statements (see {@link preparedStatements}).
   * Default true; turn it off behind a pooler that cannot keep them (PgBouncer in transaction
   * mode before 1.21).
   */
  prepareStatements?: boolean;
}

/** What `ensureDatabase` decided: the connection the service should use, and as whom. */
export interface EnsuredDatabase extends DbConnection {
  /** True when the service runs as its own role; false when it fell back to the admin user. */
  ownRole: boolean;
}

/** Options of `ensureDatabase`. */
export interface EnsureDatabaseOptions {
  /** Admin connection (database is ignored: the `postgres` maintenance db is used). */
  admin?: Omit<DbConnection, "database">;
  /** Role to create for the service; defaults to the database name. */
  role?: string;
  /** Password of that role; set on every boot so rotating it is a config change. */
  password?: string;
  logger?: Logger;
}

const DUPLICATE_DATABASE = "42P04";
const DUPLICATE_OBJECT = "42710";
const UNIQUE_VIOLATION = "23505";
const INSUFFICIENT_PRIVILEGE = "42501";

/** Quotes an identifier for DDL, where bind parameters are not allowed. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for DDL (`PASSWORD '...'` cannot be a bind parameter). */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function pgCode(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

/**
 * Creates the service's own database if it is missing, and a login role owning it when the
 * server lets the admin create roles; otherwise it falls back to the admin user and says so in
 * the log. Why: every service owns its database (DESIGN.md), and on a fresh machine a boot must
 * work without a manual `createdb`. Safe to call from several replicas at once.
 */
export async function ensureDatabase(
  name: string,
  options: EnsureDatabaseOptions = {},
): Promise<EnsuredDatabase> {
  const admin = new pg.Client({ ...options.admin, database: "postgres" });
  await admin.connect();
  try {
    const role = options.role ?? name;
    const ownRole = await ensureRole(admin, role, options.password, options.logger);
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) {
      try {
        const owner = ownRole ? ` OWNER ${ident(role)}` : "";
        await admin.query(`CREATE DATABASE ${ident(name)}${owner}`);
        options.logger?.info({ database: name }, "created database");
      } catch (error) {
        // Another replica created it between our check and our CREATE: that is the goal anyway.
        if (pgCode(error) !== DUPLICATE_DATABASE && pgCode(error) !== UNIQUE_VIOLATION) throw error;
      }
    } else if (ownRole) {
      // A database created by an earlier fallback boot is handed to the role it now runs as.
      await admin.query(`ALTER DATABASE ${ident(name)} OWNER TO ${ident(role)}`).catch((error) => {
        if (pgCode(error) !== INSUFFICIENT_PRIVILEGE) throw error;
        options.logger?.warn({ database: name, role }, "cannot hand the database to its role");
      });
    }
    const base = { ...options.admin, database: name };
    if (!ownRole) return { ...base, ownRole };
    return { ...base, user: role, password: options.password, ownRole };
  } finally {
    await admin.end();
  }
}

/** Creates (or updates the password of) the service role; false when the server forbids it. */
async function ensureRole(
  admin: pg.Client,
  role: string,
  password: string | undefined,
  logger: Logger | undefined,
): Promise<boolean> {
  const pass = password === undefined ? "" : ` PASSWORD ${literal(password)}`;
  try {
    const found = await admin.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
    if (found.rowCount === 0) {
      try {
        await admin.query(`CREATE ROLE ${ident(role)} LOGIN${pass}`);
      } catch (error) {
        if (pgCode(error) !== DUPLICATE_OBJECT && pgCode(error) !== UNIQUE_VIOLATION) throw error;
      }
    }
    if (pass) await admin.query(`ALTER ROLE ${ident(role)} LOGIN${pass}`);
    logger?.info({ role }, "database role ready; the service connects as its own role");
    return true;
  } catch (error) {
    if (pgCode(error) !== INSUFFICIENT_PRIVILEGE) throw error;
    logger?.warn(
      { role, reason: (error as Error).message },
      "cannot create a database role; falling back to the admin user",
    );
    return false;
  }
}

/**
 * Creates the pg pool behind a service's Kysely instance. Exposed on its own for the few
 * callers that need raw pg (LISTEN, advisory locks); everything else goes through `createDb`.
 */
export function createPool(config: DbConfig): pg.Pool {
  const {
    poolSize,
    applicationName,
    statementTimeoutMs,
    connectionTimeoutMs,
    prepareStatements = true,
    ...conn
  } = config;
  const pool = new pg.Pool({
    ...conn,
    max: poolSize ?? 10,
    application_name: applicationName,
    statement_timeout: statementTimeoutMs,
    connectionTimeoutMillis: connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its server (Postgres restart) must not crash the process;
  // the pool drops it and the next checkout reconnects.
  pool.on("error", () => {});
  if (prepareStatements) pool.on("connect", preparedStatements);
  return pool;
}

/** Most statements one connection keeps prepared; texts beyond it run unnamed. */
const PREPARED_PER_CONNECTION = 200;

/**
 * Makes a pooled connection run each statement text it sees as a named prepared statement,
 * so Postgres parses, analyses and plans it once per connection instead of on every call.
 * Measured: parsing and planning the services' CTE statements was the larger part of the
 * Postgres CPU per checkout. Bounded per connection; texts past the bound (IN lists of every
 * length, say) run as before. A statement whose table changed shape under it (a migration by
 * another replica) fails once with "cached plan must not change result type": the connection
 * then forgets its statements and prepares them afresh under new names.
 */
function preparedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  let names = new Map<string, string>();
  let generation = 0;
  client.query = ((text: unknown, values?: unknown, callback?: unknown) => {
    if (typeof text !== "string" || !Array.isArray(values) || callback !== undefined) {
      return query(text, values, callback);
    }
    let name = names.get(text);
    if (name === undefined && names.size < PREPARED_PER_CONNECTION) {
      name = `shopmesh_${generation}_${names.size}`;
      names.set(text, name);
    }
    if (name === undefined) return query(text, values);
    return (query({ name, text, values }) as Promise<unknown>).catch((err: unknown) => {
      if ((err as { code?: string }).code === "0A000") {
        names = new Map();
        generation++;
      }
      throw err;
    });
  }) as typeof client.query;
}

/**
 * Returns a Kysely instance over a sized pg pool for the service's own database. Call
 * `db.destroy()` at shutdown: it drains the pool.
 */
export function createDb<Schema>(config: DbConfig): Kysely<Schema> {
  return new Kysely<Schema>({ dialect: new PostgresDialect({ pool: createPool(config) }) });
}

/**
 * Drops a database (disconnecting its sessions first) and optionally its role. For tests and benchmarks that create a
 * throwaway database per run; never called by services.
 */
export async function dropDatabase(
  name: string,
  options: { admin?: Omit<DbConnection, "database">; role?: string } = {},
): Promise<void> {
  const client = new pg.Client({ ...options.admin, database: "postgres" });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    if (options.role) await client.query(`DROP ROLE IF EXISTS ${ident(options.role)}`);
  } finally {
    await client.end();
  }
}
