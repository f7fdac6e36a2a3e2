import nodemailer from "nodemailer";
import type { RenderedMessage } from "./domain/templates.ts";

/** One e-mail to hand to the SMTP server. */
export interface OutgoingMail extends RenderedMessage {
  to: string;
  /**
   * Stable per log entry, so that if a message is ever handed over twice (it should not be),
   * mail clients can still tell it is the same message.
   */
  messageId: string;
}

/** Sends e-mail. Resolves once the server accepted the message; rejects otherwise. */
export interface Mailer {
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

/** Whether an SMTP failure is permanent (5xx): retrying the same message cannot succeed. */
export function isPermanentSmtpFailure(err: unknown): boolean {
  const code = (err as { responseCode?: number } | null)?.responseCode;
  return typeof code === "number" && code >= 500 && code < 600;
}

/** An SMTP mailer over a pooled nodemailer transport. */
export function createSmtpMailer(options: {
  host: string;
  port: number;
  from: string;
  timeoutMs?: number;
}): Mailer {
  const timeout = options.timeoutMs ?? 15_000;
  const transport = nodemailer.createTransport({
    host: options.host,
    port: options.port,
    secure: false,
    // The local sink speaks plain SMTP; production relays use STARTTLS when offered.
    ignoreTLS: options.host === "127.0.0.1" || options.host === "localhost",
    pool: true,
    maxConnections: 2,
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
  });
  return {
    async send(mail) {
      await transport.sendMail({
        from: options.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
      });
    },
    close: () => transport.close(),
  };
}
