import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderDeliveredSchema,
  OrderPlacedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/order_events_pb.js";
import {
  ShipmentCreatedSchema,
  ShipmentStatusUpdatedSchema,
} from "@shopmesh/gen/shopmesh/events/v1/shipping_events_pb.js";
import {
  UserEmailVerificationRequestedSchema,
  UserPasswordResetRequestedSchema,
  UserProfileUpdatedSchema,
  UserRegisteredSchema,
} from "@shopmesh/gen/shopmesh/events/v1/user_events_pb.js";
import { NotificationChannel } from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { type EventEnvelope, unpackPayload } from "@shopmesh/platform/event-envelope";
import { handleOnce } from "@shopmesh/platform/inbox";
import type { Kafka } from "@shopmesh/platform/kafka";
import { type RunningConsumer, startConsumer } from "@shopmesh/platform/kafka-consumer";
import { uuidv7 } from "@shopmesh/platform/uuid-v7";
import type { NotificationDeps } from "./deps.ts";
import {
  type Effects,
  onEmailVerificationRequested,
  onOrderCancelled,
  onOrderConfirmed,
  onOrderDelivered,
  onOrderPlaced,
  onPasswordResetRequested,
  onShipmentCreated,
  onShipmentStatusUpdated,
  onUserProfileUpdated,
  onUserRegistered,
} from "./domain/notices.ts";
import { wants } from "./domain/preferences.ts";
import { subjectOf } from "./domain/templates.ts";
import { insertNotification, loadPreferences, upsertRecipient } from "./store.ts";

const on =
  <D extends DescMessage>(schema: D, fn: (payload: MessageShape<D>) => Effects) =>
  (envelope: EventEnvelope) =>
    fn(unpackPayload(envelope, schema));

/** The events this service reacts to; everything else on its topics is acknowledged and ignored. */
const REACTIONS: Readonly<Record<string, (envelope: EventEnvelope) => Effects>> = {
  "user.registered": on(UserRegisteredSchema, onUserRegistered),
  "user.profile_updated": on(UserProfileUpdatedSchema, onUserProfileUpdated),
  "user.email_verification_requested": on(
    UserEmailVerificationRequestedSchema,
    onEmailVerificationRequested,
  ),
  "user.password_reset_requested": on(UserPasswordResetRequestedSchema, onPasswordResetRequested),
  "order.placed": on(OrderPlacedSchema, onOrderPlaced),
  "order.confirmed": on(OrderConfirmedSchema, onOrderConfirmed),
  "order.cancelled": on(OrderCancelledSchema, onOrderCancelled),
  "order.delivered": on(OrderDeliveredSchema, onOrderDelivered),
  "shipment.created": on(ShipmentCreatedSchema, onShipmentCreated),
  "shipment.status_updated": on(ShipmentStatusUpdatedSchema, onShipmentStatusUpdated),
};

/**
 * Applies one event exactly once (inbox): updates the address book and writes one log row per
 * message it asks for, QUEUED or SKIPPED_OPTED_OUT by the user's preferences, in the inbox
 * transaction. Sending happens afterwards (dispatcher.ts). True when something was queued.
 */
export async function applyEvent(
  deps: NotificationDeps,
  envelope: EventEnvelope,
): Promise<boolean> {
  const react = REACTIONS[envelope.eventType];
  if (!react) return false;
  const effects = react(envelope);
  const outcome = await handleOnce(deps.db, deps.consumerName, envelope.eventId, async (trx) => {
    for (const recipient of effects.recipients) await upsertRecipient(trx, recipient);
    let queued = false;
    for (const notice of effects.notices) {
      const channel = NotificationChannel.EMAIL;
      const wanted = wants(await loadPreferences(trx, notice.userId), notice.type, channel);
      await insertNotification(trx, {
        id: uuidv7(),
        user_id: notice.userId,
        channel,
        type: notice.type,
        recipient: notice.email ?? "",
        subject: subjectOf(notice.type, notice.data),
        status: wanted ? "QUEUED" : "SKIPPED_OPTED_OUT",
        source_event_id: envelope.eventId,
        source_event_type: envelope.eventType,
        data: notice.data,
      });
      queued ||= wanted;
    }
    return queued;
  });
  return outcome.applied && outcome.result;
}

/** Starts the consumer of user, order and shipment events; `onQueued` wakes the dispatcher. */
export function startNotificationConsumer(
  deps: NotificationDeps,
  options: {
    kafka: Kafka;
    topics: readonly string[];
    fromBeginning: boolean;
    onQueued: () => void;
  },
): Promise<RunningConsumer> {
  return startConsumer({
    kafka: options.kafka,
    groupId: deps.consumerName,
    topics: options.topics,
    fromBeginning: options.fromBeginning,
    logger: deps.logger,
    handler: async (event) => {
      if (await applyEvent(deps, event.envelope)) options.onQueued();
    },
  });
}
