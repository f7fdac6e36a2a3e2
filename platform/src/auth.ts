import type { Metadata } from "@grpc/grpc-js";
import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import { LRUCache } from "lru-cache";
import { PermissionDeniedError, UnauthenticatedError, UnavailableError } from "./errors.ts";
import type { Authenticate } from "./grpc-server.ts";
import type { HandlerContext, Principal } from "./handler-context.ts";

export type { JSONWebKeySet };

/** Issuer claim of every shopmesh access token (the user service). */
export const ACCESS_TOKEN_ISSUER = "shopmesh-user";
/** Audience claim of every shopmesh access token. */
export const ACCESS_TOKEN_AUDIENCE = "shopmesh";
/** The role every shopper holds, as it appears in {@link Principal.roles}. */
export const ROLE_CUSTOMER = "customer";
/** The staff role that admin RPCs require, as it appears in {@link Principal.roles}. */
export const ROLE_ADMIN = "admin";

// Asymmetric algorithms only: a JWKS never holds a shared secret, and pinning the list keeps
// "alg: none" and HMAC-with-the-public-key confusion out by construction.
const ALGORITHMS = ["EdDSA", "ES256", "ES384", "RS256", "PS256"];

/** Options of {@link createJwtAuthenticator}. */
export interface JwtAuthenticatorOptions {
  /** Fetches the current JWK Set, e.g. {@link jwksFromUserService}. */
  jwks: () => Promise<JSONWebKeySet>;
  /** Required `iss`; {@link ACCESS_TOKEN_ISSUER} by default. */
  issuer?: string;
  /** Required `aud`; {@link ACCESS_TOKEN_AUDIENCE} by default. */
  audience?: string;
  /**
   * Least time between two fetches caused by tokens naming an unknown `kid`, in ms (default
   * 5000), so a flood of forged tokens cannot turn into a flood of JWKS calls.
   */
  refetchCooldownMs?: number;
  /** A cached set older than this is refetched before use, in ms (default 10 minutes). */
  maxAgeMs?: number;
  /** Clock skew tolerated on `exp`/`nbf`/`iat`, in seconds (default 5). */
  clockToleranceSec?: number;
  /** Verified tokens remembered until they expire (default 10,000; 0 turns it off). */
  verifiedCacheSize?: number;
}

/**
 * Creates the server's `authenticate` hook that verifies `authorization: Bearer <jwt>` metadata
 * against a JWK Set. No authorization metadata means an anonymous call (undefined principal);
 * a malformed, expired, wrongly signed or wrongly addressed token is rejected with
 * UNAUTHENTICATED, and a JWKS that cannot be fetched with UNAVAILABLE (the token may be fine).
 * The set is cached and refetched when a token names an unknown `kid` (at most once per
 * cooldown), so a key rotation at the user service is picked up without a restart.
 *
 * A client sends the same access token with every call until it expires, and checking its
 * signature (EdDSA) was the largest cost of authenticating a call: so a verified token's
 * claims are remembered, by the exact token, until its `exp`. A fetched key set (rotation,
 * a withdrawn key) forgets them all, so every token is checked against the new set.
 */
export function createJwtAuthenticator(options: JwtAuthenticatorOptions): Authenticate {
  const issuer = options.issuer ?? ACCESS_TOKEN_ISSUER;
  const audience = options.audience ?? ACCESS_TOKEN_AUDIENCE;
  const cooldownMs = options.refetchCooldownMs ?? 5_000;
  const maxAgeMs = options.maxAgeMs ?? 600_000;
  const clockTolerance = options.clockToleranceSec ?? 5;

  const cacheSize = options.verifiedCacheSize ?? 10_000;
  // Each entry lives until its token's `exp` (plus the tolerated skew).
  const verified = cacheSize > 0 ? new LRUCache<string, JWTPayload>({ max: cacheSize }) : undefined;

  let keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<ReturnType<typeof createLocalJWKSet>> | undefined;

  // One fetch at a time; concurrent callers share it. A failed refresh keeps the old set.
  function fetchKeys(): Promise<ReturnType<typeof createLocalJWKSet>> {
    inflight ??= options
      .jwks()
      .then((set) => {
        keySet = createLocalJWKSet(set);
        verified?.clear();
        return keySet;
      })
      .catch((err: unknown) => {
        if (keySet) return keySet;
        throw new UnavailableError(
          `cannot fetch the JWKS to verify the access token: ${message(err)}`,
        );
      })
      .finally(() => {
        fetchedAt = Date.now();
        inflight = undefined;
      });
    return inflight;
  }

  async function currentKeys() {
    if (!keySet || Date.now() - fetchedAt > maxAgeMs) return fetchKeys();
    return keySet;
  }

  async function verify(token: string): Promise<JWTPayload> {
    const known = Date.now() - fetchedAt <= maxAgeMs ? verified?.get(token) : undefined;
    if (known) return known;
    const payload = await verifySignature(token);
    const ttl =
      typeof payload.exp === "number" ? (payload.exp + clockTolerance) * 1000 - Date.now() : 0;
    if (ttl > 0) verified?.set(token, payload, { ttl });
    return payload;
  }

  async function verifySignature(token: string): Promise<JWTPayload> {
    const verifyOptions = {
      issuer,
      audience,
      algorithms: ALGORITHMS,
      clockTolerance,
      requiredClaims: ["sub", "exp"],
    };
    try {
      return (await jwtVerify(token, await currentKeys(), verifyOptions)).payload;
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey) || Date.now() - fetchedAt < cooldownMs) {
        throw err;
      }
      return (await jwtVerify(token, await fetchKeys(), verifyOptions)).payload;
    }
  }

  return async (metadata: Metadata) => {
    const token = bearerToken(metadata);
    if (token === undefined) return undefined;
    let payload: JWTPayload;
    try {
      payload = await verify(token);
    } catch (err) {
      throw toAuthError(err);
    }
    if (typeof payload.sub !== "string" || payload.sub === "") {
      throw new UnauthenticatedError("access token has no subject");
    }
    return { subject: payload.sub, roles: rolesOf(payload.roles), claims: payload };
  };
}

/** The token of `authorization: Bearer <token>`, undefined without the header. */
function bearerToken(metadata: Metadata): string | undefined {
  const [value] = metadata.get("authorization");
  if (value === undefined) return undefined;
  const header = typeof value === "string" ? value : value.toString("utf8");
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) {
    throw new UnauthenticatedError('authorization metadata must be "Bearer <access token>"');
  }
  return match[1];
}

// Lower-cased so `requireAdmin` accepts both this README's "admin" and the proto's "ADMIN".
function rolesOf(claim: unknown): string[] {
  if (!Array.isArray(claim)) return [];
  return claim.filter((r): r is string => typeof r === "string").map((r) => r.toLowerCase());
}

function toAuthError(err: unknown): Error {
  if (err instanceof UnavailableError || err instanceof UnauthenticatedError) return err;
  if (err instanceof joseErrors.JWTExpired) return new UnauthenticatedError("access token expired");
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return new UnauthenticatedError(`access token rejected: ${err.claim} claim ${err.reason}`);
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) {
    return new UnauthenticatedError("access token signed with an unknown key");
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new UnauthenticatedError("access token signature is invalid");
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return new UnauthenticatedError("access token uses a disallowed signing algorithm");
  }
  if (err instanceof joseErrors.JOSEError) {
    return new UnauthenticatedError("access token is malformed");
  }
  return err instanceof Error ? err : new Error(String(err));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** True when the principal holds `role` (compared case-insensitively). */
export function hasRole(principal: Principal | undefined, role: string): boolean {
  const wanted = role.toLowerCase();
  return principal?.roles.some((r) => r.toLowerCase() === wanted) ?? false;
}

/** The caller, or UNAUTHENTICATED when the call carries no access token. */
export function requireUser(ctx: Pick<HandlerContext, "principal">): Principal {
  if (!ctx.principal) {
    throw new UnauthenticatedError(
      "this RPC needs a signed-in user: send authorization: Bearer <access token>",
    );
  }
  return ctx.principal;
}

/**
 * The caller, when it is `userId` or an admin; PERMISSION_DENIED when it is another user,
 * UNAUTHENTICATED when anonymous. Guards every user-scoped resource (cart, orders, addresses).
 */
export function requireSelfOrAdmin(
  ctx: Pick<HandlerContext, "principal">,
  userId: string,
): Principal {
  const principal = requireUser(ctx);
  if (principal.subject !== userId && !hasRole(principal, ROLE_ADMIN)) {
    throw new PermissionDeniedError(`caller may not act on user ${userId}'s resources`);
  }
  return principal;
}

/** The caller, when it holds the admin role; PERMISSION_DENIED otherwise (UNAUTHENTICATED if anonymous). */
export function requireAdmin(ctx: Pick<HandlerContext, "principal">): Principal {
  const principal = requireUser(ctx);
  if (!hasRole(principal, ROLE_ADMIN)) {
    throw new PermissionDeniedError("this RPC needs the admin role");
  }
  return principal;
}

/** One key as `UserService.GetJwks` returns it: protobuf fields, unused ones empty. */
export interface JwksKeyMessage {
  kty: string;
  kid: string;
  use: string;
  alg: string;
  crv: string;
  x: string;
  y: string;
  n: string;
  e: string;
}

/**
 * The slice of a `Client<typeof UserService>` that {@link jwksFromUserService} needs; typed
 * structurally so the platform stays free of domain imports.
 */
export interface JwksSource {
  getJwks(request: Record<string, never>): Promise<{ keys: readonly JwksKeyMessage[] }>;
}

/**
 * Adapts a user-service client into the `jwks` option of {@link createJwtAuthenticator}:
 * calls `UserService.GetJwks` and turns its messages into a standard JWK Set, dropping the
 * empty members protobuf has for fields a key type does not use.
 */
export function jwksFromUserService(client: JwksSource): () => Promise<JSONWebKeySet> {
  return async () => {
    const response = await client.getJwks({});
    return { keys: response.keys.map(toJwk) };
  };
}

function toJwk(key: JwksKeyMessage): JWK {
  const jwk: Record<string, string> = {};
  for (const name of ["kty", "kid", "use", "alg", "crv", "x", "y", "n", "e"] as const) {
    if (key[name]) jwk[name] = key[name];
  }
  return jwk as JWK;
}
