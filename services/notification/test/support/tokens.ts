import { createJwtAuthenticator } from "@shopmesh/platform/auth";
import type { Authenticate } from "@shopmesh/platform/grpc-server";
import { exportJWK, generateKeyPair, SignJWT } from "jose";

/** A local stand-in for the user service's signing keys: verifier plus token minting. */
export interface TestIssuer {
  authenticate: Authenticate;
  /** Metadata carrying a fresh access token for `userId` (admin when asked). */
  as(userId: string, options?: { admin?: boolean }): Promise<{ authorization: string }>;
}

/** Creates an Ed25519 key, a verifier trusting only it, and a token minter, as the user service would. */
export async function createTestIssuer(): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const kid = "test-key";
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" };
  return {
    authenticate: createJwtAuthenticator({ jwks: async () => ({ keys: [jwk] }) }),
    async as(userId, options = {}) {
      const token = await new SignJWT({
        roles: options.admin ? ["customer", "admin"] : ["customer"],
      })
        .setProtectedHeader({ alg: "EdDSA", kid })
        .setIssuer("shopmesh-user")
        .setAudience("shopmesh")
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime("10m")
        .sign(privateKey);
      return { authorization: `Bearer ${token}` };
    },
  };
}
