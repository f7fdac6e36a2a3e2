import type { IncomingMessage, ServerResponse } from "node:http";
import type { HttpError } from "./error-mapping.ts";

/** Writes `body` as JSON with `status` (unless the response has already started). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** Writes an {@link HttpError} as the JSON error body. */
export function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, error.body, error.headers);
}

/** Why a body could not be read. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

/**
 * Reads the request body up to `limit` bytes, rejecting with {@link BodyTooLargeError} as soon as
 * it is exceeded (by Content-Length up front, or while streaming a chunked body).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (declared > limit) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!done) resolve(Buffer.concat(chunks));
      done = true;
    });
    req.on("error", (err) => {
      if (!done) reject(err);
      done = true;
    });
  });
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's `x-request-id` when it is a sane token, else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/**
 * The client's IP, for per-client rate limits. With `trustedProxyHops` = 0 it is the socket's
 * peer. Behind N trusted proxies (e.g. 1 for an Istio ingress gateway) it is the N-th
 * `X-Forwarded-For` entry from the right: the address the outermost trusted proxy saw. Entries
 * further left were written by the client itself and could be forged to dodge the limit.
 */
export function clientIpOf(req: IncomingMessage, trustedProxyHops: number): string {
  if (trustedProxyHops > 0) {
    const header = req.headers["x-forwarded-for"];
    const hops = (Array.isArray(header) ? header.join(",") : (header ?? ""))
      .split(",")
      .map((hop) => hop.trim())
      .filter(Boolean);
    const client = hops[hops.length - trustedProxyHops];
    if (client) return client;
  }
  return req.socket.remoteAddress ?? "unknown";
}
