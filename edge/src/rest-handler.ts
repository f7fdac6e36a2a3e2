import type { IncomingMessage, ServerResponse } from "node:http";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, InvalidArgumentError, ServiceError } from "@shopmesh/platform/errors";
import type { Logger } from "@shopmesh/platform/logger";
import { type MethodPolicy, methodKey, requireAccess, requireOwner } from "./access-policy.ts";
import { type Caller, callUpstream } from "./caller.ts";
import { plainHttpError, toHttpError } from "./error-mapping.ts";
import { BodyTooLargeError, readBody, sendError, sendJson } from "./http-io.ts";
import type { HttpBinding } from "./http-rules.ts";
import type { RouteTable } from "./route-table.ts";
import { buildRequest, renderResponse } from "./transcode.ts";
import type { Upstreams } from "./upstreams.ts";

/** What the REST handler needs, built once in main.ts. */
export interface RestHandlerDeps {
  routes: RouteTable;
  policies: ReadonlyMap<string, MethodPolicy>;
  upstreams: Upstreams;
  maxBodyBytes: number;
  logger: Logger;
}

/** Handles one REST/JSON request; `route` is filled in for metrics once matched. */
export type RestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
) => Promise<{ route: string }>;

const CREATE_PREFIXES = ["Create", "Register", "Add", "Place"];

/**
 * The success status of a binding: 201 for a POST whose RPC creates something (its name starts
 * with Create, Register, Add or Place), 200 otherwise.
 */
export function successStatus(binding: HttpBinding): number {
  return binding.verb === "POST" && CREATE_PREFIXES.some((p) => binding.method.name.startsWith(p))
    ? 201
    : 200;
}

/**
 * Creates the REST/JSON transcoder: route lookup, body parsing, access check, request building
 * from path/query/body, the upstream gRPC call, and the JSON answer or JSON error. Every failure
 * answers through the one error table, so bad input is a 4xx and never a 5xx.
 */
export function createRestHandler(deps: RestHandlerDeps): RestHandler {
  return async (req, res, caller) => {
    const url = new URL(req.url ?? "/", "http://edge");
    const found = deps.routes.lookup(req.method ?? "GET", url.pathname);
    if (found.kind === "bad_path") {
      sendError(res, toHttpError(new InvalidArgumentError("path", found.reason)));
      return { route: "bad_path" };
    }
    if (found.kind === "not_found") {
      sendError(res, plainHttpError(404, "not_found", `no route for ${url.pathname}`));
      return { route: "not_found" };
    }
    if (found.kind === "method_not_allowed") {
      sendError(
        res,
        plainHttpError(405, "method_not_allowed", `${req.method} is not allowed here`, {
          allow: found.allow.join(", "),
        }),
      );
      return { route: "method_not_allowed" };
    }
    const { binding, pathValues } = found;
    const route = `${binding.verb} ${binding.template.source}`;
    try {
      const policy = deps.policies.get(methodKey(binding.method));
      if (!policy) throw new ServiceError(Code.NOT_FOUND, `no route for ${url.pathname}`);
      if (caller.authError) throw caller.authError;
      requireAccess(policy, caller.principal);
      const body = await readJsonBody(req, deps.maxBodyBytes);
      const request = buildRequest(binding, { pathValues, query: url.searchParams, body });
      requireOwner(policy, caller.principal, request);
      const controller = new AbortController();
      const onClose = () => {
        if (!res.writableEnded) controller.abort();
      };
      res.once("close", onClose);
      const response = await callUpstream(deps.upstreams, binding.method, request, caller, {
        signal: controller.signal,
      }).finally(() => res.off("close", onClose));
      sendJson(res, successStatus(binding), renderResponse(binding, response));
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        sendError(
          res,
          plainHttpError(413, "payload_too_large", err.message, { connection: "close" }),
        );
      } else if (err instanceof UnsupportedMediaTypeError) {
        sendError(res, plainHttpError(415, "unsupported_media_type", err.message));
      } else {
        const mapped = toHttpError(err);
        if (mapped.status >= 500 && !(err instanceof ServiceError)) {
          deps.logger.error({ err, route }, "REST request failed with an unexpected error");
        }
        sendError(res, mapped);
      }
    }
    return { route };
  };
}

class UnsupportedMediaTypeError extends Error {}

/** The parsed JSON body, undefined when empty; INVALID_ARGUMENT for malformed JSON. */
async function readJsonBody(req: IncomingMessage, limit: number): Promise<JsonValue | undefined> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) return undefined;
  const type = (req.headers["content-type"] ?? "application/json").split(";")[0]!.trim();
  if (type !== "application/json" && !type.endsWith("+json")) {
    throw new UnsupportedMediaTypeError(
      `content-type ${type} is not supported; send application/json`,
    );
  }
  try {
    return JSON.parse(raw.toString("utf8")) as JsonValue;
  } catch (err) {
    throw new InvalidArgumentError(
      "body",
      `malformed JSON: ${(err as Error).message.slice(0, 120)}`,
    );
  }
}
