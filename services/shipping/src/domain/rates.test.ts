import assert from "node:assert/strict";
import { test } from "node:test";
import { ServiceLevel } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { InvalidArgumentError } from "@shopmesh/platform/errors";
import { addBusinessDays, rateOptions, zoneOf } from "./rates.ts";

test("zones: same country domestic, neighbours regional, the rest international", () => {
  assert.equal(zoneOf("US", "US"), "domestic");
  assert.equal(zoneOf("US", "MX"), "regional");
  assert.equal(zoneOf("DE", "FR"), "regional");
  assert.equal(zoneOf("US", "JP"), "international");
});

test("prices by started kilogram: 1001 g costs the same as 2000 g, more than 1000 g", () => {
  const price = (grams: number) =>
    rateOptions({
      originCountry: "US",
      destinationCountry: "US",
      parcelGrams: [grams],
      currencyCode: "USD",
      level: ServiceLevel.STANDARD,
      carrierCode: "mockship",
    })[0]?.priceMinor;
  assert.equal(price(1000), 649n);
  assert.equal(price(1001), 799n);
  assert.equal(price(2000), 799n);
});

test("the same query always gives the same options, cheapest first", () => {
  const query = {
    originCountry: "US",
    destinationCountry: "GB",
    parcelGrams: [2500, 400],
    currencyCode: "GBP",
    level: ServiceLevel.UNSPECIFIED,
  };
  const a = rateOptions(query);
  assert.deepEqual(rateOptions(query), a);
  for (let i = 1; i < a.length; i++) assert.ok(a[i - 1]!.priceMinor <= a[i]!.priceMinor);
});

test("an unpriced currency is INVALID_ARGUMENT on currency_code", () => {
  assert.throws(
    () =>
      rateOptions({
        originCountry: "US",
        destinationCountry: "US",
        parcelGrams: [1],
        currencyCode: "JPY",
        level: ServiceLevel.UNSPECIFIED,
      }),
    (err: unknown) => err instanceof InvalidArgumentError && /currency_code/.test(err.message),
  );
});

test("business days skip weekends", () => {
  // 2030-01-04 is a Friday.
  assert.equal(addBusinessDays(new Date("2030-01-04T12:00:00Z"), 1), "2030-01-07");
  assert.equal(addBusinessDays(new Date("2030-01-04T12:00:00Z"), 5), "2030-01-11");
});
