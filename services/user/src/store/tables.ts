import type { PlatformTables } from "@shopmesh/platform/platform-migrations";
import type { ColumnType, Generated, Kysely, Transaction } from "kysely";
import type { RoleName, StatusName } from "../domain/account.ts";

type Defaulted<T> = ColumnType<T, T | undefined, T>;

/** `users`: one account. */
export interface UsersTable {
  id: string;
  email: string;
  password_hash: string;
  name: string;
  phone: Defaulted<string>;
  email_verified: Defaulted<boolean>;
  roles: Defaulted<RoleName[]>;
  status: Defaulted<StatusName>;
  locked_until: Defaulted<Date | null>;
  created_at: Defaulted<Date>;
  updated_at: Defaulted<Date>;
}

/** `user_status_changes`: the audit trail of admin status changes. */
export interface UserStatusChangesTable {
  id: Generated<string>;
  user_id: string;
  status: string;
  reason: string;
  changed_by: string | null;
  changed_at: Generated<Date>;
}

/** `sessions`: one refresh-token family. */
export interface SessionsTable {
  id: string;
  user_id: string;
  created_at: Generated<Date>;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

/** `refresh_tokens`: SHA-256 of each token a session ever issued. */
export interface RefreshTokensTable {
  token_hash: Uint8Array;
  session_id: string;
  created_at: Generated<Date>;
  used_at: Date | null;
}

/** `email_verification_codes`: the one pending code of a user. */
export interface EmailVerificationCodesTable {
  user_id: string;
  code_hash: Uint8Array;
  expires_at: Date;
  failed_attempts: Defaulted<number>;
  created_at: Generated<Date>;
}

/** `password_reset_tokens`: hashed single-use reset tokens. */
export interface PasswordResetTokensTable {
  token_hash: Uint8Array;
  user_id: string;
  expires_at: Date;
  used_at: Date | null;
  created_at: Generated<Date>;
}

/** `auth_attempts`: sliding-window throttle counters. */
export interface AuthAttemptsTable {
  id: Generated<string>;
  kind: string;
  key: string;
  at: Generated<Date>;
}

/** `signing_keys`: JWT signing keys; at most one current. */
export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: ColumnType<Record<string, string>, string, string>;
  private_key: string;
  private_key_encryption: "none" | "aes-256-gcm";
  created_at: Generated<Date>;
  retired_at: Date | null;
}

/** `addresses`. */
export interface AddressesTable {
  id: string;
  user_id: string;
  label: string;
  full_name: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postal_code: string;
  country_code: string;
  phone: string;
  is_default: boolean;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** `payment_methods`: a gateway token and what may be shown about its card, never a number. */
export interface PaymentMethodsTable {
  id: string;
  user_id: string;
  gateway_token: string;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
  is_default: boolean;
  created_at: Generated<Date>;
}

/** `wishlist_items`. */
export interface WishlistItemsTable {
  user_id: string;
  product_id: string;
  variant_id: string | null;
  added_at: Generated<Date>;
}

/** The user service's database. */
export interface UserDatabase extends PlatformTables {
  users: UsersTable;
  user_status_changes: UserStatusChangesTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  email_verification_codes: EmailVerificationCodesTable;
  password_reset_tokens: PasswordResetTokensTable;
  auth_attempts: AuthAttemptsTable;
  signing_keys: SigningKeysTable;
  addresses: AddressesTable;
  payment_methods: PaymentMethodsTable;
  wishlist_items: WishlistItemsTable;
}

/** The database handle every store function takes: the pool or an open transaction. */
export type Db = Kysely<UserDatabase>;
/** An open transaction. */
export type Tx = Transaction<UserDatabase>;
