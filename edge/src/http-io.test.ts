import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, test } from "node:test";
import { clientIpOf } from "./http-io.ts";

function request(forwardedFor: string | undefined, peer = "10.0.0.9"): IncomingMessage {
  const headers = forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor };
  return { headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

describe("client IP for rate limits", () => {
  test("is the socket peer when no proxy is trusted, whatever X-Forwarded-For says", () => {
    assert.equal(clientIpOf(request("1.2.3.4"), 0), "10.0.0.9");
  });

  test("is the entry the trusted proxy appended, not the client's forged first entry", () => {
    // A client sends "6.6.6.6"; the ingress gateway appends the address it really saw.
    assert.equal(clientIpOf(request("6.6.6.6, 203.0.113.7"), 1), "203.0.113.7");
    assert.equal(clientIpOf(request("6.6.6.6, 203.0.113.7, 10.1.1.1"), 2), "203.0.113.7");
  });

  test("falls back to the socket peer when the header has fewer hops than trusted proxies", () => {
    assert.equal(clientIpOf(request(undefined), 1), "10.0.0.9");
    assert.equal(clientIpOf(request("203.0.113.7"), 2), "10.0.0.9");
  });
});
