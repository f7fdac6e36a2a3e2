import type { DescMessage } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  EmailVerificationReason,
  UserEmailVerificationRequestedSchema,
  UserPasswordResetRequestedSchema,
  UserProfileUpdatedSchema,
  UserRegisteredSchema,
} from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import type { NewEvent } from "@shopmesh/platform/event-envelope";
import { appendToOutbox } from "@shopmesh/platform/outbox";
import { rolesToProto, statusToProto } from "./handlers/mapping.ts";
import type { Tx } from "./store/tables.ts";
import type { UserRecord } from "./store/users.ts";

/** The topic every user event goes to; the key is the user id. */
export const USERS_TOPIC = "users";

export { EmailVerificationReason };

function event<D extends DescMessage>(
  user: { id: string },
  eventType: string,
  schema: D,
  payload: NewEvent<D>["payload"],
): NewEvent<D> {
  return {
    topic: USERS_TOPIC,
    aggregateType: "user",
    aggregateId: user.id,
    eventType,
    producer: "user",
    payloadSchema: schema,
    payload,
  };
}

/** user.registered: the whole new profile. */
export function userRegistered(user: UserRecord): NewEvent {
  return event(
    user,
    "user.registered",
    UserRegisteredSchema,
    create(UserRegisteredSchema, {
      userId: user.id,
      email: user.email,
      name: user.name,
      phone: user.phone,
      roles: rolesToProto(user.roles),
      emailVerified: user.emailVerified,
      registeredAt: timestampFromDate(user.createdAt),
    }),
  );
}

/** user.profile_updated: the whole profile after the change and which fields changed. */
export function userProfileUpdated(user: UserRecord, changedFields: readonly string[]): NewEvent {
  return event(
    user,
    "user.profile_updated",
    UserProfileUpdatedSchema,
    create(UserProfileUpdatedSchema, {
      userId: user.id,
      email: user.email,
      name: user.name,
      phone: user.phone,
      emailVerified: user.emailVerified,
      roles: rolesToProto(user.roles),
      status: statusToProto(user.status),
      changedFields: [...changedFields],
      updatedAt: timestampFromDate(user.updatedAt),
    }),
  );
}

/** user.email_verification_requested: the code, sealed to the notification service. */
export function emailVerificationRequested(
  user: UserRecord,
  sealedCode: string,
  expiresAt: Date,
  reason: EmailVerificationReason,
): NewEvent {
  return event(
    user,
    "user.email_verification_requested",
    UserEmailVerificationRequestedSchema,
    create(UserEmailVerificationRequestedSchema, {
      userId: user.id,
      email: user.email,
      name: user.name,
      sealedCode,
      expiresAt: timestampFromDate(expiresAt),
      reason,
    }),
  );
}

/** user.password_reset_requested: the reset token, sealed to the notification service. */
export function passwordResetRequested(
  user: UserRecord,
  sealedToken: string,
  expiresAt: Date,
): NewEvent {
  return event(
    user,
    "user.password_reset_requested",
    UserPasswordResetRequestedSchema,
    create(UserPasswordResetRequestedSchema, {
      userId: user.id,
      email: user.email,
      name: user.name,
      sealedToken,
      expiresAt: timestampFromDate(expiresAt),
    }),
  );
}

/** Appends events in the transaction that made the change they describe. */
export async function publish(tx: Tx, ...events: NewEvent[]): Promise<void> {
  await appendToOutbox(tx, events);
}
