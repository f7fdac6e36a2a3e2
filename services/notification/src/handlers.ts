import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Notification,
  NotificationSchema,
  type NotificationService,
  NotificationStatus,
  NotificationType,
  type Preferences as PreferencesMessage,
  PreferencesSchema,
} from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";
import { requireSelfOrAdmin } from "@shopmesh/platform/auth";
import { InvalidArgumentError } from "@shopmesh/platform/errors";
import type { ServiceImpl } from "@shopmesh/platform/handler-context";
import type { NotificationDeps } from "./deps.ts";
import {
  ALL_TYPES,
  applyPreferencesPatch,
  isMandatory,
  type Preferences,
} from "./domain/preferences.ts";
import {
  type LogStatus,
  listNotifications,
  loadPreferences,
  type NotificationRow,
  savePreferences,
} from "./store.ts";

function toPreferencesMessage(p: Preferences): PreferencesMessage {
  return create(PreferencesSchema, {
    userId: p.userId,
    types: ALL_TYPES.map((type) => ({
      type,
      enabled: isMandatory(type) || !p.disabledTypes.includes(type),
      mandatory: isMandatory(type),
    })),
    channels: [...p.channels],
    updatedAt: p.updatedAt ? timestampFromDate(p.updatedAt) : undefined,
  });
}

function toNotificationMessage(row: NotificationRow): Notification {
  return create(NotificationSchema, {
    id: row.id,
    userId: row.user_id,
    channel: row.channel,
    type: row.type,
    recipient: row.recipient,
    subject: row.subject,
    status: NotificationStatus[row.status],
    failureReason: row.failure_reason,
    sourceEventId: row.source_event_id,
    sourceEventType: row.source_event_type,
    createdAt: timestampFromDate(row.created_at),
    sentAt: row.sent_at ? timestampFromDate(row.sent_at) : undefined,
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The NotificationService implementation: a user reads and changes only their own preferences
 * and log; admins may read and change any.
 */
export function createNotificationHandlers(
  deps: NotificationDeps,
): ServiceImpl<typeof NotificationService> {
  return {
    async getPreferences(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      return { preferences: toPreferencesMessage(await loadPreferences(deps.db, req.userId)) };
    },

    async updatePreferences(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const updated = await deps.db.transaction().execute(async (trx) => {
        const current = await loadPreferences(trx, req.userId);
        const next = applyPreferencesPatch(
          current,
          {
            types: req.types.map((t) => ({ type: t.type, enabled: t.enabled })),
            ...(req.channels ? { channels: req.channels.channels } : {}),
          },
          new Date(),
        );
        await savePreferences(trx, next);
        return next;
      });
      return { preferences: toPreferencesMessage(updated) };
    },

    async listNotifications(req, ctx) {
      requireSelfOrAdmin(ctx, req.userId);
      const token = req.page?.pageToken ?? "";
      if (token && !UUID.test(token)) {
        throw new InvalidArgumentError("page.page_token", "is not a token this service returned");
      }
      const limit = req.page?.pageSize || 20;
      const { rows, total } = await listNotifications(deps.db, {
        userId: req.userId,
        ...(req.type !== NotificationType.UNSPECIFIED ? { type: req.type } : {}),
        ...(req.status !== NotificationStatus.UNSPECIFIED
          ? { status: NotificationStatus[req.status] as LogStatus }
          : {}),
        ...(token ? { afterId: token } : {}),
        limit,
      });
      return {
        notifications: rows.map(toNotificationMessage),
        page: {
          nextPageToken: rows.length === limit ? (rows.at(-1)?.id ?? "") : "",
          totalSize: BigInt(total),
        },
      };
    },
  };
}
