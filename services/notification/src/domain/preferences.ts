import {
  NotificationChannel,
  NotificationType,
} from "@shopmesh/gen/shopmesh/notification/v1/notification_pb.js";

/** Security notifications: always sent by e-mail, whatever the preferences say (see the proto). */
export const MANDATORY_TYPES: readonly NotificationType[] = [
  NotificationType.EMAIL_VERIFICATION,
  NotificationType.PASSWORD_RESET,
  NotificationType.ACCOUNT_CHANGED,
];

/** Every notification type, in enum order. */
export const ALL_TYPES: readonly NotificationType[] = Object.values(NotificationType).filter(
  (v): v is NotificationType => typeof v === "number" && v !== NotificationType.UNSPECIFIED,
);

/** One user's settings; a user who never changed anything has the defaults. */
export interface Preferences {
  userId: string;
  /** Types the user switched off (never a mandatory one). */
  disabledTypes: readonly NotificationType[];
  /** Channels the user accepts optional notifications on. */
  channels: readonly NotificationChannel[];
  /** Undefined until the user first changes anything. */
  updatedAt: Date | undefined;
}

/** The defaults: every type on, e-mail only. */
export function defaultPreferences(userId: string): Preferences {
  return { userId, disabledTypes: [], channels: [NotificationChannel.EMAIL], updatedAt: undefined };
}

/** True for security types that cannot be opted out of. */
export function isMandatory(type: NotificationType): boolean {
  return MANDATORY_TYPES.includes(type);
}

/** Whether a notification of `type` goes out on `channel` under these preferences. */
export function wants(
  prefs: Preferences,
  type: NotificationType,
  channel: NotificationChannel,
): boolean {
  if (isMandatory(type)) return channel === NotificationChannel.EMAIL;
  return !prefs.disabledTypes.includes(type) && prefs.channels.includes(channel);
}

/**
 * Applies an UpdatePreferences patch: listed types take their new setting, others keep theirs,
 * channels are replaced only when given. Mandatory types can never end up disabled.
 */
export function applyPreferencesPatch(
  prefs: Preferences,
  patch: {
    types: readonly { type: NotificationType; enabled: boolean }[];
    channels?: readonly NotificationChannel[];
  },
  at: Date,
): Preferences {
  const disabled = new Set(prefs.disabledTypes);
  for (const { type, enabled } of patch.types) {
    if (enabled || isMandatory(type)) disabled.delete(type);
    else disabled.add(type);
  }
  return {
    userId: prefs.userId,
    disabledTypes: [...disabled].sort((a, b) => a - b),
    channels: patch.channels ? [...patch.channels] : prefs.channels,
    updatedAt: at,
  };
}
