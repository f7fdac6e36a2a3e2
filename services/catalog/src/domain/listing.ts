import { createHash } from "node:crypto";
import { InvalidArgumentError } from "@shopmesh/platform/errors";

/** Product listing orders (the proto's ProductSort without its prefix). */
export type ProductSortName =
  | "RELEVANCE"
  | "NEWEST"
  | "PRICE_ASC"
  | "PRICE_DESC"
  | "RATING"
  | "NAME";

/**
 * A sort as keyset pagination needs it: the key columns (each a fixed SQL expression with the
 * type its cursor value is cast to), one direction for all of them, and the product id as the
 * final tie-breaker so the order is total and pages never repeat or skip a product.
 */
export interface SortSpec {
  direction: "asc" | "desc";
  keys: readonly { expr: string; type: "bigint" | "float8" | "timestamptz" | "text" }[];
}

// A product without active variants has no price; it sorts after every priced one either way.
const SORTS: Record<ProductSortName, SortSpec> = {
  RELEVANCE: {
    direction: "desc",
    keys: [
      { expr: "p.rating_count", type: "bigint" },
      { expr: "p.rating_average", type: "float8" },
      { expr: "p.created_at", type: "timestamptz" },
    ],
  },
  NEWEST: { direction: "desc", keys: [{ expr: "p.created_at", type: "timestamptz" }] },
  PRICE_ASC: {
    direction: "asc",
    keys: [{ expr: "coalesce(p.min_price_minor, 9223372036854775807)", type: "bigint" }],
  },
  PRICE_DESC: {
    direction: "desc",
    keys: [{ expr: "coalesce(p.min_price_minor, -1)", type: "bigint" }],
  },
  RATING: {
    direction: "desc",
    keys: [
      { expr: "p.rating_average", type: "float8" },
      { expr: "p.rating_count", type: "bigint" },
    ],
  },
  NAME: { direction: "asc", keys: [{ expr: "lower(p.name)", type: "text" }] },
};

/** The keyset definition of a sort. */
export function sortSpec(sort: ProductSortName): SortSpec {
  return SORTS[sort];
}

/** Where the next page starts: the last product's sort-key values and id. */
export interface ListCursor {
  /** Key values as strings (bigint and timestamps do not survive JSON numbers). */
  keys: string[];
  id: string;
}

interface TokenBody {
  s: ProductSortName;
  f: string;
  k: string[];
  i: string;
}

/** A short fingerprint of the filters, so a token is only accepted by the query that issued it. */
export function filterFingerprint(filters: unknown): string {
  return createHash("sha256").update(JSON.stringify(filters)).digest("base64url").slice(0, 12);
}

/** Encodes an opaque page token. */
export function encodePageToken(
  sort: ProductSortName,
  fingerprint: string,
  cursor: ListCursor,
): string {
  const body: TokenBody = { s: sort, f: fingerprint, k: cursor.keys, i: cursor.id };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/**
 * Decodes a page token for this sort and these filters; INVALID_ARGUMENT (field
 * page.page_token) for anything else, since a token from another query would skip or repeat.
 */
export function decodePageToken(
  token: string,
  sort: ProductSortName,
  fingerprint: string,
): ListCursor | undefined {
  if (token === "") return undefined;
  let body: Partial<TokenBody> | undefined;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Partial<TokenBody>;
  } catch {
    body = undefined;
  }
  const keys = body?.k;
  const valid =
    body?.s === sort &&
    body.f === fingerprint &&
    typeof body.i === "string" &&
    /^[0-9a-f-]{36}$/.test(body.i) &&
    Array.isArray(keys) &&
    keys.length === SORTS[sort].keys.length &&
    keys.every((k) => typeof k === "string");
  if (!valid || !body?.i || !keys) {
    throw new InvalidArgumentError(
      "page.page_token",
      "is not a token returned by this listing with the same filters and sort",
    );
  }
  return { keys, id: body.i };
}
