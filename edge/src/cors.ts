import type { IncomingMessage, ServerResponse } from "node:http";

// What browsers must be allowed to send and read for REST, Connect and gRPC-Web alike; the
// Connect and gRPC-Web lists are the ones @connectrpc/cors documents.
const ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOWED_HEADERS = [
  "authorization",
  "content-type",
  "x-request-id",
  "connect-protocol-version",
  "connect-timeout-ms",
  "connect-content-encoding",
  "connect-accept-encoding",
  "grpc-timeout",
  "x-grpc-web",
  "x-user-agent",
].join(", ");
const EXPOSED_HEADERS = [
  "x-request-id",
  "retry-after",
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  "content-encoding",
  "connect-content-encoding",
].join(", ");

/** Cross-origin access for the configured storefront origins. */
export interface Cors {
  /**
   * Adds the CORS response headers for an allowed `Origin`. For a preflight (OPTIONS with
   * `Access-Control-Request-Method`) it answers the request itself and returns true: 204 for an
   * allowed origin, 403 for any other.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * Creates the CORS policy for `origins` (exact origins such as `https://shop.example`, or `*`
 * for any). Credentials are not allowed: tokens travel in the Authorization header, not cookies.
 */
export function createCors(origins: readonly string[]): Cors {
  const any = origins.includes("*");
  const allowed = new Set(origins);
  return {
    handle(req, res) {
      const origin = req.headers.origin;
      const preflight =
        req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
      const ok = origin !== undefined && (any || allowed.has(origin));
      if (ok) {
        res.setHeader("access-control-allow-origin", any ? "*" : origin);
        res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
        if (!any) res.setHeader("vary", "Origin");
      }
      if (!preflight) return false;
      if (!ok) {
        res.writeHead(403, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            code: "permission_denied",
            message: `origin ${origin ?? "(none)"} is not allowed`,
            details: [],
          }),
        );
        return true;
      }
      res.writeHead(204, {
        "access-control-allow-methods": ALLOWED_METHODS,
        "access-control-allow-headers": ALLOWED_HEADERS,
        "access-control-max-age": "7200",
        "content-length": "0",
      });
      res.end();
      return true;
    },
  };
}
