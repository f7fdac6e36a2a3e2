import { randomBytes } from "node:crypto";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Metadata } from "@grpc/grpc-js";
import type { CardSummary } from "@shopmesh/gen/shopmesh/common/v1/card_pb.js";
import {
  UserEmailVerificationRequestedSchema,
  UserPasswordResetRequestedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import { UserService } from "@shopmesh/gen/shopmesh/user/v1/user_pb.js";
import { dropDatabase } from "@shopmesh/platform/db";
import {
  decodeEnvelope,
  type EventEnvelope,
  unpackPayload,
} from "@shopmesh/platform/event-envelope";
import { type Client, closeClients, createClient } from "@shopmesh/platform/grpc-client";
import { createLogger } from "@shopmesh/platform/logger";
import { compactDecrypt, exportJWK, generateKeyPair } from "jose";
import { loadUserConfig } from "../src/config.ts";
import { type RunningUserService, startUserService } from "../src/server.ts";
import type { Db } from "../src/store/tables.ts";

// The same defaults as deploy/local/env.sh, for a test run from a shell that did not source it.
process.env.PGHOST ??= "127.0.0.1";
process.env.PGPORT ??= "5432";
process.env.PGUSER ??= "postgres";

/** A registered account and a signed-in session of it. */
export interface TestAccount {
  id: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  /** `authorization: Bearer <access token>` metadata. */
  auth: Metadata;
}

/** A user service on a throwaway database, its client, and the notification key to open seals. */
export interface UserHarness {
  client: Client<typeof UserService>;
  db: Db;
  running: RunningUserService;
  dbName: string;
  /** Cards the stand-in gateway knows, by token. */
  cards: Map<string, CardSummary>;
  register(overrides?: { email?: string; password?: string; name?: string }): Promise<TestAccount>;
  /** Signs in an existing account (e.g. the bootstrap admin). */
  login(email: string, password: string, address?: string): Promise<TestAccount>;
  /** Payloads of a user's events of one type from the outbox, oldest first. */
  events<D extends DescMessage>(
    userId: string,
    eventType: string,
    schema: D,
  ): Promise<MessageShape<D>[]>;
  /** Raw envelopes of a user's events from the outbox, oldest first. */
  envelopes(userId: string): Promise<EventEnvelope[]>;
  /** The latest verification code sent to a user, opened as the notification service would. */
  verificationCode(userId: string): Promise<string>;
  /** The latest password-reset token sent to a user, opened the same way. */
  resetToken(userId: string): Promise<string>;
  /** Opens a sealed secret (JWE) with the run's notification private key. */
  openSeal(jwe: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** Metadata with `authorization: Bearer <token>`, and optionally a client address. */
export function bearer(token: string, address?: string): Metadata {
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${token}`);
  if (address) metadata.set("x-forwarded-for", address);
  return metadata;
}

/** A unique email per call, so tests never collide. */
export function uniqueEmail(prefix = "user"): string {
  return `${prefix}-${randomBytes(5).toString("hex")}@example.test`;
}

export const ADMIN_EMAIL = "admin@shopmesh.test";
export const ADMIN_PASSWORD = "admin-password-1";

/**
 * Starts the real user service (its own startUserService) in-process on port 0 against a fresh
 * database, with a stand-in payment gateway and a notification key pair generated for the run.
 */
export async function startUserHarness(env: Record<string, string> = {}): Promise<UserHarness> {
  const dbName = `shopmesh_users_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  const notification = await generateKeyPair("RSA-OAEP-256", { extractable: true });
  const publicJwk = { ...(await exportJWK(notification.publicKey)), kid: `test-${dbName}` };
  const config = loadUserConfig({
    ...process.env,
    GRPC_PORT: "0",
    METRICS_PORT: "0",
    DB_NAME: dbName,
    NOTIFICATION_PUBLIC_JWK: JSON.stringify(publicJwk),
    USER_KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    USER_OUTBOX_RELAY: "false",
    USER_BOOTSTRAP_ADMIN_EMAIL: ADMIN_EMAIL,
    USER_BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
    ...env,
  });
  const cards = new Map<string, CardSummary>();
  const running = await startUserService(config, {
    logger: createLogger("user-test", process.env.TEST_LOG_LEVEL ?? "silent"),
    handleSignals: false,
    cards: { describe: async (token) => cards.get(token) },
  });
  const client = createClient(UserService, `127.0.0.1:${running.port}`, {
    timeoutMs: 20_000,
    breaker: false,
  });
  const { db } = running;

  async function envelopes(userId: string): Promise<EventEnvelope[]> {
    const rows = await db
      .selectFrom("outbox")
      .select("envelope")
      .where("aggregate_id", "=", userId)
      .orderBy("id")
      .execute();
    return rows.map((r) => decodeEnvelope(r.envelope));
  }

  async function events<D extends DescMessage>(userId: string, eventType: string, schema: D) {
    return (await envelopes(userId))
      .filter((e) => e.eventType === eventType)
      .map((e) => unpackPayload(e, schema));
  }

  async function open(jwe: string): Promise<Record<string, string>> {
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, notification.privateKey);
    if (protectedHeader.alg !== "RSA-OAEP-256" || protectedHeader.enc !== "A256GCM") {
      throw new Error(`unexpected JWE header ${JSON.stringify(protectedHeader)}`);
    }
    if (protectedHeader.kid !== publicJwk.kid) throw new Error("JWE names another key");
    return JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, string>;
  }

  function account(
    id: string,
    email: string,
    password: string,
    tokens: { accessToken: string; refreshToken: string } | undefined,
  ): TestAccount {
    if (!tokens) throw new Error("no tokens in the response");
    return { id, email, password, ...tokens, auth: bearer(tokens.accessToken) };
  }

  return {
    client,
    db,
    running,
    dbName,
    cards,
    async register(overrides = {}) {
      const email = overrides.email ?? uniqueEmail();
      const password = overrides.password ?? "correct horse battery";
      const res = await client.register({ email, password, name: overrides.name ?? "Test User" });
      return account(res.user?.id ?? "", email, password, res.tokens);
    },
    async login(email, password, address) {
      const res = await client.login(
        { email, password },
        address ? { metadata: { "x-forwarded-for": address } } : {},
      );
      return account(res.user?.id ?? "", email, password, res.tokens);
    },
    events,
    envelopes,
    openSeal: open,
    async verificationCode(userId) {
      const sent = await events(
        userId,
        "user.email_verification_requested",
        UserEmailVerificationRequestedSchema,
      );
      const last = sent.at(-1);
      if (!last) throw new Error(`no verification code was sent to ${userId}`);
      return (await open(last.sealedCode)).code ?? "";
    },
    async resetToken(userId) {
      const sent = await events(
        userId,
        "user.password_reset_requested",
        UserPasswordResetRequestedSchema,
      );
      const last = sent.at(-1);
      if (!last) throw new Error(`no reset token was sent to ${userId}`);
      return (await open(last.sealedToken)).token ?? "";
    },
    async close() {
      closeClients();
      await running.stop();
      await dropDatabase(dbName, { role: dbName });
    },
  };
}
