import { sql } from "kysely";
import type { NotificationDeps } from "./deps.ts";
import { renderMessage } from "./domain/templates.ts";
import { isPermanentSmtpFailure } from "./mailer.ts";
import { findRecipient, type NotificationRow } from "./store.ts";

/** Attempts before a message that keeps failing is marked FAILED. */
const MAX_ATTEMPTS = 8;
/** A claim older than this belongs to a sender that died mid-send (SMTP times out far sooner). */
const STALE_CLAIM_MS = 5 * 60_000;
const BATCH = 10;

/** A running dispatcher. */
export interface Dispatcher {
  /** Asks for a round soon (after the consumer queued something). */
  kick(): void;
  /** Sends every due message now; resolves when the round is done (tests, shutdown). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

const backoffMs = (attempts: number) => Math.min(300_000, 1_000 * 2 ** attempts);

/**
 * Sends QUEUED log rows and marks them SENT. Delivery is **at most once per event**:
 *
 * 1. The consumer writes the row QUEUED in the inbox transaction, so a redelivered event finds
 *    the inbox row (and the unique (source_event_id, type, channel)) and queues nothing.
 * 2. A sender claims due rows (`send_started_at`, FOR UPDATE SKIP LOCKED, committed) before
 *    talking to SMTP, so two instances never send the same row.
 * 3. After the server accepts the message the row becomes SENT; an SMTP error releases the claim
 *    with a backoff (or FAILED when permanent or out of attempts).
 *
 * The crash window: if the process dies between the claim (2) and the SENT commit (3), nobody
 * knows whether the server accepted the message. Such a claim is never resent: after
 * {@link STALE_CLAIM_MS} the row is marked FAILED "outcome unknown", trading a possible lost
 * e-mail (seconds of exposure per crash) for never sending a duplicate. Rows QUEUED but never
 * claimed (a crash before step 2) are sent normally after a restart.
 */
export function startDispatcher(deps: NotificationDeps, pollMs = 2_000): Dispatcher {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;
  let again = false;

  const claim = async (): Promise<NotificationRow[]> => {
    const { rows } = await sql<NotificationRow>`
      UPDATE notifications SET send_started_at = now(), attempts = attempts + 1
      WHERE id IN (
        SELECT id FROM notifications
        WHERE status = 'QUEUED' AND send_started_at IS NULL AND next_attempt_at <= now()
        ORDER BY next_attempt_at, id LIMIT ${BATCH}
        FOR UPDATE SKIP LOCKED)
      RETURNING *`.execute(deps.db);
    return rows;
  };

  const finish = (id: string, set: Record<string, unknown>) =>
    deps.db
      .updateTable("notifications")
      .set({ send_started_at: null, ...set })
      .where("id", "=", id)
      .execute();

  const retryOrFail = (row: NotificationRow, reason: string, permanent = false) =>
    permanent || row.attempts >= MAX_ATTEMPTS
      ? finish(row.id, { status: "FAILED", failure_reason: reason })
      : finish(row.id, { next_attempt_at: new Date(Date.now() + backoffMs(row.attempts)) });

  const send = async (row: NotificationRow) => {
    const known = row.recipient ? undefined : await findRecipient(deps.db, row.user_id);
    const to = row.recipient || known?.email;
    if (!to) {
      // user.registered may not have been consumed yet (topics are not ordered with each other).
      await retryOrFail(row, `no e-mail address known for user ${row.user_id}`);
      return;
    }
    const data = { ...row.data, name: row.data.name ?? known?.name };
    let message: ReturnType<typeof renderMessage>;
    try {
      const secret = data.sealed ? await deps.secrets.open(data.sealed) : {};
      message = renderMessage(row.type, data, deps.links, secret);
    } catch (err) {
      deps.logger.error({ err, notificationId: row.id }, "cannot render a notification");
      await retryOrFail(row, `cannot render: ${(err as Error).message}`, true);
      return;
    }
    try {
      await deps.mailer.send({ ...message, to, messageId: `<${row.id}@notification.shopmesh>` });
    } catch (err) {
      deps.logger.warn({ err, notificationId: row.id, attempt: row.attempts }, "SMTP send failed");
      await retryOrFail(row, `SMTP: ${(err as Error).message}`, isPermanentSmtpFailure(err));
      return;
    }
    // The sealed secret is useless once sent; drop it rather than keep it in the log.
    const { sealed: _sealed, ...kept } = row.data;
    await finish(row.id, { status: "SENT", sent_at: new Date(), recipient: to, data: kept });
  };

  const failStaleClaims = () =>
    deps.db
      .updateTable("notifications")
      .set({
        status: "FAILED",
        send_started_at: null,
        failure_reason:
          "delivery outcome unknown: the sender stopped during the SMTP hand-off; not resent to avoid a duplicate",
      })
      .where("status", "=", "QUEUED")
      .where("send_started_at", "<", new Date(Date.now() - STALE_CLAIM_MS))
      .execute();

  const runRound = async () => {
    await failStaleClaims();
    for (;;) {
      const rows = await claim();
      if (rows.length === 0) return;
      await Promise.all(rows.map(send));
    }
  };

  const schedule = (ms: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(tick, ms);
  };

  function tick(): Promise<void> {
    if (round) {
      again = true;
      return round;
    }
    round = runRound()
      .catch((err: unknown) => deps.logger.warn({ err }, "notification dispatch round failed"))
      .finally(() => {
        round = undefined;
        if (again) {
          again = false;
          schedule(0);
        } else schedule(pollMs);
      });
    return round;
  }

  schedule(0);
  return {
    kick: () => schedule(0),
    async drain() {
      await round;
      await tick();
      await round;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await round;
    },
  };
}
