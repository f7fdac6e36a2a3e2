import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Metadata } from "@grpc/grpc-js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import {
  createJwtAuthenticator,
  jwksFromUserService,
  requireAdmin,
  requireSelfOrAdmin,
  requireUser,
} from "@shopmesh/platform/auth";
import { Code, ServiceError } from "@shopmesh/platform/errors";
import { closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createTestTokens, serveTestJwks } from "@shopmesh/platform/testing/test-tokens";

const PATH = "/shopmesh.test.v1.Probe/Call";

function withAuthorization(value: string): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", value);
  return metadata;
}

async function rejection(promise: unknown): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ServiceError, `expected a ServiceError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the call to be rejected");
}

describe("createJwtAuthenticator", async () => {
  const tokens = await createTestTokens("k1");
  const authenticate = tokens.authenticator();

  test("treats a call without authorization metadata as anonymous", async () => {
    assert.equal(await authenticate(new Metadata(), PATH), undefined);
  });

  test("turns a valid token into a principal with subject and lower-cased roles", async () => {
    const token = await tokens.sign({ sub: "u-1", roles: ["CUSTOMER", "admin"] });
    const principal = await authenticate(tokens.bearer(token), PATH);
    assert.equal(principal?.subject, "u-1");
    assert.deepEqual(principal?.roles, ["customer", "admin"]);
    assert.equal(principal?.claims?.iss, "shopmesh-user");
  });

  test("rejects an expired token as UNAUTHENTICATED saying it expired", async () => {
    const token = await tokens.sign({ sub: "u-1", expiresIn: Math.floor(Date.now() / 1000) - 60 });
    const err = await rejection(authenticate(tokens.bearer(token), PATH));
    assert.equal(err.code, Code.UNAUTHENTICATED);
    assert.match(err.message, /expired/);
  });

  test("rejects a token signed by another key under the same kid", async () => {
    const impostor = await createTestTokens("k1");
    const err = await rejection(
      authenticate(impostor.bearer(await impostor.sign({ sub: "u-1" })), PATH),
    );
    assert.equal(err.code, Code.UNAUTHENTICATED);
    assert.match(err.message, /signature/);
  });

  test("rejects malformed tokens and non-Bearer schemes", async () => {
    for (const value of ["Bearer not-a-jwt", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer", ""]) {
      const err = await rejection(authenticate(withAuthorization(value), PATH));
      assert.equal(err.code, Code.UNAUTHENTICATED, value);
    }
  });

  test("rejects an unsigned alg:none token", async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const exp = Math.floor(Date.now() / 1000) + 600;
    const body = { sub: "u-1", roles: ["admin"], iss: "shopmesh-user", aud: "shopmesh", exp };
    const token = `${b64({ alg: "none", kid: "k1" })}.${b64(body)}.`;
    const err = await rejection(authenticate(tokens.bearer(token), PATH));
    assert.equal(err.code, Code.UNAUTHENTICATED);
  });

  test("rejects a wrong issuer or audience naming the claim", async () => {
    const wrongIss = await tokens.sign({ sub: "u-1", issuer: "evil" });
    assert.match((await rejection(authenticate(tokens.bearer(wrongIss), PATH))).message, /iss/);
    const wrongAud = await tokens.sign({ sub: "u-1", audience: "other" });
    assert.match((await rejection(authenticate(tokens.bearer(wrongAud), PATH))).message, /aud/);
  });

  test("refetches the JWKS for an unknown kid, at most once per cooldown", async () => {
    const first = await createTestTokens("rot-1");
    const second = await createTestTokens("rot-2");
    const third = await createTestTokens("rot-3");
    let published = first.jwks;
    let fetches = 0;
    const auth = createJwtAuthenticator({
      jwks: async () => {
        fetches++;
        return published;
      },
      refetchCooldownMs: 200,
    });
    await auth(first.bearer(await first.sign({ sub: "u-1" })), PATH);
    assert.equal(fetches, 1);
    await auth(first.bearer(await first.sign({ sub: "u-1" })), PATH);
    assert.equal(fetches, 1, "a known kid is served from the cache");

    // Rotation lands right after the last fetch: within the cooldown the new kid is refused
    // without another fetch; after it, one refetch picks the key up.
    published = { keys: [...first.jwks.keys, ...second.jwks.keys] };
    const rotated = second.bearer(await second.sign({ sub: "u-2" }));
    assert.equal((await rejection(auth(rotated, PATH))).code, Code.UNAUTHENTICATED);
    assert.equal(fetches, 1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal((await auth(rotated, PATH))?.subject, "u-2");
    assert.equal(fetches, 2);

    // Many forged kids in a burst cost at most one fetch.
    await new Promise((resolve) => setTimeout(resolve, 250));
    const forged = third.bearer(await third.sign({ sub: "u-3" }));
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => auth(forged, PATH)));
    assert.ok(results.every((r) => r.status === "rejected"));
    assert.equal(fetches, 3);
  });

  test("a remembered token stops working when it expires", async () => {
    const keys = await createTestTokens("exp-1");
    const auth = createJwtAuthenticator({ jwks: async () => keys.jwks, clockToleranceSec: 0 });
    const token = keys.bearer(
      await keys.sign({ sub: "u-1", expiresIn: Math.floor(Date.now() / 1000) + 2 }),
    );
    assert.equal((await auth(token, PATH))?.subject, "u-1");
    assert.equal((await auth(token, PATH))?.subject, "u-1", "answered from the cache");

    await new Promise((resolve) => setTimeout(resolve, 2_100));

    const err = await rejection(auth(token, PATH));
    assert.equal(err.code, Code.UNAUTHENTICATED);
    assert.match(err.message, /expired/);
  });

  test("a fetched key set forgets remembered tokens: a withdrawn key's tokens are refused", async () => {
    const old = await createTestTokens("old-1");
    const fresh = await createTestTokens("new-1");
    let published = old.jwks;
    const auth = createJwtAuthenticator({ jwks: async () => published, refetchCooldownMs: 0 });
    const oldToken = old.bearer(await old.sign({ sub: "u-1" }));
    assert.equal((await auth(oldToken, PATH))?.subject, "u-1");

    // The user service rotates and withdraws the old key; a new-kid token triggers the refetch.
    published = fresh.jwks;
    assert.equal(
      (await auth(fresh.bearer(await fresh.sign({ sub: "u-2" })), PATH))?.subject,
      "u-2",
    );

    assert.equal((await rejection(auth(oldToken, PATH))).code, Code.UNAUTHENTICATED);
  });

  test("answers UNAVAILABLE when the JWKS cannot be fetched at all", async () => {
    const auth = createJwtAuthenticator({
      jwks: async () => {
        throw new Error("connection refused");
      },
    });
    const err = await rejection(auth(tokens.bearer(await tokens.sign({ sub: "u-1" })), PATH));
    assert.equal(err.code, Code.UNAVAILABLE);
  });
});

describe("authorization helpers", () => {
  const customer = { principal: { subject: "u-1", roles: ["customer"] } };
  const admin = { principal: { subject: "a-1", roles: ["customer", "admin"] } };
  const anonymous = { principal: undefined };

  test("requireUser refuses anonymous calls with UNAUTHENTICATED", () => {
    assert.throws(
      () => requireUser(anonymous),
      (e: ServiceError) => e.code === Code.UNAUTHENTICATED,
    );
    assert.equal(requireUser(customer).subject, "u-1");
  });

  test("requireSelfOrAdmin lets users reach only their own resources, admins any", () => {
    assert.equal(requireSelfOrAdmin(customer, "u-1").subject, "u-1");
    assert.throws(
      () => requireSelfOrAdmin(customer, "u-2"),
      (e: ServiceError) => e.code === Code.PERMISSION_DENIED && e.message.includes("u-2"),
    );
    assert.equal(requireSelfOrAdmin(admin, "u-2").subject, "a-1");
    assert.throws(
      () => requireSelfOrAdmin(anonymous, "u-1"),
      (e: ServiceError) => e.code === Code.UNAUTHENTICATED,
    );
  });

  test("requireAdmin refuses customers with PERMISSION_DENIED", () => {
    assert.throws(
      () => requireAdmin(customer),
      (e: ServiceError) => e.code === Code.PERMISSION_DENIED,
    );
    assert.equal(requireAdmin(admin).subject, "a-1");
    assert.equal(requireAdmin({ principal: { subject: "a-2", roles: ["ADMIN"] } }).subject, "a-2");
  });
});

describe("jwksFromUserService", async () => {
  const tokens = await createTestTokens();
  const server = await serveTestJwks(tokens);
  after(async () => {
    closeClients();
    await server.close();
  });

  test("verifies tokens against keys fetched over UserService.GetJwks", async () => {
    const client = createClient(UserService, server.address, { breaker: false });
    const jwks = await jwksFromUserService(client)();
    assert.deepEqual(
      jwks.keys.map((k) => k.kid),
      [tokens.kid],
    );
    assert.equal(jwks.keys[0]?.y, undefined, "empty protobuf members are dropped");
    const auth = createJwtAuthenticator({ jwks: jwksFromUserService(client) });
    const principal = await auth(tokens.bearer(await tokens.sign({ sub: "u-9" })), PATH);
    assert.equal(principal?.subject, "u-9");
  });
});
