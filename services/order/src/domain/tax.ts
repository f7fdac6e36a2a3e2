import type { Money } from "./order.ts";

/** One tax rule: a rate in basis points (1/100 of a percent) and whether shipping is taxed. */
export interface TaxRule {
  rateBps: number;
  taxShipping: boolean;
}

/**
 * A deliberately small destination tax table: VAT countries tax goods and shipping; US states
 * and Canadian provinces use a single combined sales-tax rate on goods only. Real shops use a
 * tax engine; this keeps the order honest (tax is computed server-side, by destination) without
 * pretending to be one. Unknown destinations are not taxed.
 */
export const TAX_TABLE: Readonly<Record<string, TaxRule>> = {
  DE: { rateBps: 1900, taxShipping: true },
  FR: { rateBps: 2000, taxShipping: true },
  GB: { rateBps: 2000, taxShipping: true },
  NL: { rateBps: 2100, taxShipping: true },
  IT: { rateBps: 2200, taxShipping: true },
  ES: { rateBps: 2100, taxShipping: true },
  AU: { rateBps: 1000, taxShipping: true },
  JP: { rateBps: 1000, taxShipping: true },
  CA: { rateBps: 500, taxShipping: false },
  "CA-ON": { rateBps: 1300, taxShipping: false },
  "CA-QC": { rateBps: 1498, taxShipping: false },
  US: { rateBps: 0, taxShipping: false },
  "US-CA": { rateBps: 725, taxShipping: false },
  "US-NY": { rateBps: 400, taxShipping: false },
  "US-TX": { rateBps: 625, taxShipping: false },
  "US-WA": { rateBps: 650, taxShipping: false },
};

/** The rule for a destination: "COUNTRY-REGION" first, then the country, else untaxed. */
export function taxRuleFor(countryCode: string, region = ""): TaxRule {
  const regionKey = `${countryCode}-${region.trim().toUpperCase()}`;
  return TAX_TABLE[regionKey] ?? TAX_TABLE[countryCode] ?? { rateBps: 0, taxShipping: false };
}

/**
 * Tax on the discounted goods (and shipping where the rule says so), rounded half up to the
 * minor unit. Integer arithmetic only, so the same inputs always give the same cent.
 */
export function computeTax(goods: Money, shipping: Money, discount: Money, rule: TaxRule): Money {
  const base =
    Math.max(0, goods.amountMinor - discount.amountMinor) +
    (rule.taxShipping ? shipping.amountMinor : 0);
  return {
    currencyCode: goods.currencyCode,
    amountMinor: Math.floor((base * rule.rateBps + 5_000) / 10_000),
  };
}
