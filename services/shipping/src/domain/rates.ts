import { ServiceLevel } from "@shopmesh/gen/shopmesh/shipping/v1/shipping_pb.js";
import { InvalidArgumentError } from "@shopmesh/platform/errors";

/** A rate-table destination zone, from the shop's origin country. */
export type Zone = "domestic" | "regional" | "international";

/** One service level a carrier sells: a base price plus a price per started kilogram, in USD cents. */
interface Rate {
  level: ServiceLevel;
  baseMinor: number;
  perKgMinor: number;
}

/** A carrier in the rate table. */
export interface Carrier {
  code: string;
  name: string;
  /** Prefix of its tracking numbers. */
  trackingPrefix: string;
  rates: readonly Rate[];
}

/** The carriers shopmesh ships with; adding one here makes it quotable and bookable. */
export const CARRIERS: readonly Carrier[] = [
  {
    code: "mockship",
    name: "MockShip",
    trackingPrefix: "MS",
    rates: [
      { level: ServiceLevel.STANDARD, baseMinor: 499, perKgMinor: 150 },
      { level: ServiceLevel.EXPRESS, baseMinor: 999, perKgMinor: 250 },
      { level: ServiceLevel.OVERNIGHT, baseMinor: 1999, perKgMinor: 400 },
    ],
  },
  {
    code: "parcelpost",
    name: "ParcelPost",
    trackingPrefix: "PP",
    rates: [
      { level: ServiceLevel.STANDARD, baseMinor: 399, perKgMinor: 180 },
      { level: ServiceLevel.EXPRESS, baseMinor: 1199, perKgMinor: 220 },
    ],
  },
  {
    code: "swiftair",
    name: "SwiftAir",
    trackingPrefix: "SA",
    rates: [
      { level: ServiceLevel.EXPRESS, baseMinor: 1099, perKgMinor: 200 },
      { level: ServiceLevel.OVERNIGHT, baseMinor: 1799, perKgMinor: 450 },
    ],
  },
];

/** Price multiplier per zone, in percent. */
const ZONE_PERCENT: Readonly<Record<Zone, number>> = {
  domestic: 100,
  regional: 150,
  international: 250,
};

/** Business days from dispatch to delivery, [min, max], per level and zone; absent = not offered. */
const TRANSIT_DAYS: Readonly<Record<number, Partial<Record<Zone, readonly [number, number]>>>> = {
  [ServiceLevel.STANDARD]: { domestic: [3, 5], regional: [5, 8], international: [7, 14] },
  [ServiceLevel.EXPRESS]: { domestic: [1, 2], regional: [2, 4], international: [3, 6] },
  [ServiceLevel.OVERNIGHT]: { domestic: [1, 1], regional: [1, 2] },
};

/** Countries that are "regional" to each other (same customs area or neighbours). */
const REGIONS: readonly (readonly string[])[] = [
  ["US", "CA", "MX"],
  [
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "HU",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
    "NO",
    "CH",
    "GB",
  ],
  ["AU", "NZ"],
];

/** Exchange rates from USD used for quoting, per 10 000 (fixed, so quotes are deterministic). */
const USD_PER_10K: Readonly<Record<string, number>> = {
  USD: 10_000,
  EUR: 9_200,
  GBP: 7_900,
  CAD: 13_700,
};

/** The currencies the rate table prices in. */
export const QUOTE_CURRENCIES = Object.keys(USD_PER_10K);

/** The zone of a destination country as seen from the origin country. */
export function zoneOf(origin: string, destination: string): Zone {
  if (origin === destination) return "domestic";
  return REGIONS.some((r) => r.includes(origin) && r.includes(destination))
    ? "regional"
    : "international";
}

/** One priced delivery option. */
export interface RatedOption {
  carrier: Carrier;
  level: ServiceLevel;
  zone: Zone;
  currencyCode: string;
  priceMinor: bigint;
  daysMin: number;
  daysMax: number;
}

/** What to price: parcel weights in grams (one entry per parcel), where, in what currency. */
export interface RateQuery {
  originCountry: string;
  destinationCountry: string;
  parcelGrams: readonly number[];
  currencyCode: string;
  /** Only this level; UNSPECIFIED for every level. */
  level: ServiceLevel;
  /** Only this carrier; empty for all. */
  carrierCode?: string;
}

/**
 * Prices every carrier and level that serves the destination, cheapest first. Each parcel costs
 * the level's base price plus its per-kilogram price per started kilogram, scaled by the zone;
 * parcels are summed, then converted at fixed rates and rounded half up to the minor unit.
 */
export function rateOptions(query: RateQuery): RatedOption[] {
  const perTenK = USD_PER_10K[query.currencyCode];
  if (perTenK === undefined) {
    throw new InvalidArgumentError(
      "currency_code",
      `the rate table prices in ${QUOTE_CURRENCIES.join(", ")}, not ${query.currencyCode}`,
    );
  }
  const zone = zoneOf(query.originCountry, query.destinationCountry);
  const options: RatedOption[] = [];
  for (const carrier of CARRIERS) {
    if (query.carrierCode && carrier.code !== query.carrierCode) continue;
    for (const rate of carrier.rates) {
      if (query.level !== ServiceLevel.UNSPECIFIED && rate.level !== query.level) continue;
      const days = TRANSIT_DAYS[rate.level]?.[zone];
      if (!days) continue;
      const usdCents = query.parcelGrams.reduce(
        (sum, grams) =>
          sum +
          BigInt(rate.baseMinor + rate.perKgMinor * Math.ceil(grams / 1000)) *
            BigInt(ZONE_PERCENT[zone]),
        0n,
      );
      // usdCents carries the zone percent (x100); the rate is per 10 000: divide by 10^6, half up.
      const priceMinor = (usdCents * BigInt(perTenK) + 500_000n) / 1_000_000n;
      options.push({
        carrier,
        level: rate.level,
        zone,
        currencyCode: query.currencyCode,
        priceMinor,
        daysMin: days[0],
        daysMax: days[1],
      });
    }
  }
  return options.sort(
    (a, b) =>
      Number(a.priceMinor - b.priceMinor) ||
      a.level - b.level ||
      a.carrier.code.localeCompare(b.carrier.code),
  );
}

/** The carrier with `code`, or undefined. */
export function carrierByCode(code: string): Carrier | undefined {
  return CARRIERS.find((c) => c.code === code);
}

/** `from` plus `days` business days (Monday to Friday), as "YYYY-MM-DD" in UTC. */
export function addBusinessDays(from: Date, days: number): string {
  const d = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()));
  let left = days;
  while (left > 0) {
    d.setUTCDate(d.getUTCDate() + 1);
    const weekday = d.getUTCDay();
    if (weekday !== 0 && weekday !== 6) left--;
  }
  return d.toISOString().slice(0, 10);
}
