import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "@shopmesh/platform/errors";
import { decodePageToken, encodePageToken, filterFingerprint, sortSpec } from "./listing.ts";

const id = "0190a000-0000-7000-8000-000000000001";

describe("listing page tokens", () => {
  it("round-trip the cursor for the same sort and filters", () => {
    const f = filterFingerprint({ brands: ["Acme"] });
    const token = encodePageToken("PRICE_ASC", f, { keys: ["1999"], id });
    assert.deepEqual(decodePageToken(token, "PRICE_ASC", f), { keys: ["1999"], id });
    assert.equal(decodePageToken("", "PRICE_ASC", f), undefined);
  });

  it("refuse a token from another sort, other filters, or garbage, naming page.page_token", () => {
    const f = filterFingerprint({});
    const token = encodePageToken("NEWEST", f, { keys: ["2030-01-01T00:00:00.000Z"], id });
    for (const [t, sort, fp] of [
      [token, "NAME", f],
      [token, "NEWEST", filterFingerprint({ tags: ["x"] })],
      ["not-a-token", "NEWEST", f],
    ] as const) {
      assert.throws(
        () => decodePageToken(t, sort, fp),
        (err: unknown) =>
          err instanceof InvalidArgumentError && err.violations[0]?.field === "page.page_token",
      );
    }
  });

  it("every sort ends in keys of one direction, so a row comparison pages it", () => {
    for (const sort of [
      "RELEVANCE",
      "NEWEST",
      "PRICE_ASC",
      "PRICE_DESC",
      "RATING",
      "NAME",
    ] as const) {
      assert.ok(sortSpec(sort).keys.length >= 1);
    }
    assert.equal(sortSpec("PRICE_ASC").direction, "asc");
    assert.equal(sortSpec("PRICE_DESC").direction, "desc");
  });
});
