import { type Kysely, sql } from "kysely";

/**
 * Accounts, sessions and one-time secrets. Emails are stored lower-cased and unique; every
 * secret (password, refresh token, verification code, reset token) is stored only as a hash.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE users (
      id uuid PRIMARY KEY,
      email text NOT NULL UNIQUE CHECK (email = lower(email)),
      password_hash text NOT NULL,
      name text NOT NULL,
      phone text NOT NULL DEFAULT '',
      email_verified boolean NOT NULL DEFAULT false,
      roles text[] NOT NULL DEFAULT ARRAY['customer'],
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked', 'suspended')),
      locked_until timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX users_name_lower ON users (lower(name) text_pattern_ops)`.execute(db);

  await sql`
    CREATE TABLE user_status_changes (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      status text NOT NULL,
      reason text NOT NULL,
      changed_by uuid,
      changed_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  // A session is one refresh-token family: rotation adds tokens, a replay revokes the session.
  await sql`
    CREATE TABLE sessions (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      revoked_at timestamptz,
      revoked_reason text
    )`.execute(db);
  await sql`CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL`.execute(db);
  await sql`
    CREATE TABLE refresh_tokens (
      token_hash bytea PRIMARY KEY,
      session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      used_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)`.execute(db);

  // One pending code per user: issuing a new one replaces (invalidates) the previous.
  await sql`
    CREATE TABLE email_verification_codes (
      user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      code_hash bytea NOT NULL,
      expires_at timestamptz NOT NULL,
      failed_attempts integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE password_reset_tokens (
      token_hash bytea PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX password_reset_tokens_user ON password_reset_tokens (user_id)`.execute(db);

  // Sliding-window counters for throttles (failed logins per email / per address, resends).
  await sql`
    CREATE TABLE auth_attempts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      kind text NOT NULL,
      key text NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX auth_attempts_lookup ON auth_attempts (kind, key, at)`.execute(db);

  // JWT signing keys. At most one current (retired_at IS NULL) key, so replicas booting together
  // agree on one: the loser of the insert race reads the winner's key.
  await sql`
    CREATE TABLE signing_keys (
      kid text PRIMARY KEY,
      alg text NOT NULL,
      public_jwk jsonb NOT NULL,
      private_key text NOT NULL,
      private_key_encryption text NOT NULL CHECK (private_key_encryption IN ('none', 'aes-256-gcm')),
      created_at timestamptz NOT NULL DEFAULT now(),
      retired_at timestamptz
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((true)) WHERE retired_at IS NULL`.execute(
    db,
  );
}
