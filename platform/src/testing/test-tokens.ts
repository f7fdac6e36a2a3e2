import { Metadata } from "@grpc/grpc-js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWK, SignJWT } from "jose";
import {
  ACCESS_TOKEN_AUDIENCE,
  ACCESS_TOKEN_ISSUER,
  createJwtAuthenticator,
  ROLE_ADMIN,
  ROLE_CUSTOMER,
} from "../auth.ts";
import { Code, ServiceError } from "../errors.ts";
import type { Authenticate } from "../grpc-server.ts";
import { createGrpcServer } from "../grpc-server.ts";
import type { ServiceImpl } from "../handler-context.ts";
import { createLogger } from "../logger.ts";

/** What {@link TestTokens.sign} puts in a token; everything but `sub` has a sensible default. */
export interface TestTokenClaims {
  /** The user id (`sub`). */
  sub: string;
  /** Roles claim; `["customer"]` by default. */
  roles?: readonly string[];
  /** `exp` as a jose time span ("15m", "-1m" for an already expired token) or epoch seconds. */
  expiresIn?: string | number;
  /** Overrides the issuer (to test a wrong `iss`). */
  issuer?: string;
  /** Overrides the audience (to test a wrong `aud`). */
  audience?: string;
  /** Extra claims, e.g. `{ email_verified: true }`. */
  claims?: Record<string, unknown>;
}

/**
 * A throwaway Ed25519 signing key for tests of services that check access tokens: signs tokens
 * for any user and roles, and publishes the matching JWKS, so a test needs no user service.
 */
export interface TestTokens {
  /** Key id in every token's header and in the JWKS. */
  readonly kid: string;
  /** The public JWK Set. */
  readonly jwks: JSONWebKeySet;
  /** A `jwks` option for `createJwtAuthenticator`. */
  jwksProvider(): Promise<JSONWebKeySet>;
  /** Signs an access token shaped like the user service's. */
  sign(claims: TestTokenClaims): Promise<string>;
  /** An authenticator that trusts this key, for `startService({ authenticate })`. */
  authenticator(): Authenticate;
  /** Call metadata carrying `authorization: Bearer <token>`, for a client call's `metadata`. */
  bearer(token: string): Metadata;
}

/** Creates a fresh key pair; `kid` defaults to a random one. */
export async function createTestTokens(kid = `test-${crypto.randomUUID()}`): Promise<TestTokens> {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" };
  const jwks: JSONWebKeySet = { keys: [publicJwk] };
  return {
    kid,
    jwks,
    jwksProvider: async () => jwks,
    sign(c) {
      return new SignJWT({ roles: [...(c.roles ?? [ROLE_CUSTOMER])], ...c.claims })
        .setProtectedHeader({ alg: "EdDSA", kid, typ: "JWT" })
        .setSubject(c.sub)
        .setIssuer(c.issuer ?? ACCESS_TOKEN_ISSUER)
        .setAudience(c.audience ?? ACCESS_TOKEN_AUDIENCE)
        .setIssuedAt()
        .setJti(crypto.randomUUID())
        .setExpirationTime(c.expiresIn ?? "15m")
        .sign(privateKey);
    },
    authenticator: () => createJwtAuthenticator({ jwks: async () => jwks }),
    bearer(token) {
      const metadata = new Metadata();
      metadata.set("authorization", `Bearer ${token}`);
      return metadata;
    },
  };
}

/** A running stand-in user service that answers only `GetJwks`. */
export interface TestJwksServer {
  /** `127.0.0.1:<port>`, to pass as `USER_ADDR` to a service under test. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Serves `tokens`' JWKS as `UserService.GetJwks` on a free local port, for tests that start a
 * service as a child process whose authenticator fetches keys from `USER_ADDR`. Every other
 * UserService RPC answers UNIMPLEMENTED.
 */
export async function serveTestJwks(tokens: TestTokens): Promise<TestJwksServer> {
  const server = createGrpcServer({ logger: createLogger("test-jwks", "silent") });
  const impl: Record<string, unknown> = {};
  for (const method of UserService.methods) {
    impl[method.localName] = () => {
      throw new ServiceError(
        Code.UNIMPLEMENTED,
        `${method.name} is not served by the test JWKS server`,
      );
    };
  }
  impl.getJwks = () => ({ keys: tokens.jwks.keys.map((k) => ({ ...k })) });
  server.addService(UserService, impl as ServiceImpl<typeof UserService>);
  const port = await server.listen("127.0.0.1:0");
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      await server.drain(1_000);
    },
  };
}

/** The short form most service tests need: a verifier plus "call as this user" metadata. */
export interface TestIssuer {
  /** An authenticator that trusts only this issuer's key. */
  authenticate: Authenticate;
  /** Metadata carrying a fresh access token for `userId` (customer, or admin when asked). */
  as(userId: string, options?: { admin?: boolean }): Promise<{ authorization: string }>;
}

/** Creates a {@link TestIssuer} on a fresh key pair, standing in for the user service. */
export async function createTestIssuer(): Promise<TestIssuer> {
  const tokens = await createTestTokens();
  return {
    authenticate: tokens.authenticator(),
    async as(userId, options = {}) {
      const roles = options.admin ? [ROLE_CUSTOMER, ROLE_ADMIN] : [ROLE_CUSTOMER];
      return { authorization: `Bearer ${await tokens.sign({ sub: userId, roles })}` };
    },
  };
}
