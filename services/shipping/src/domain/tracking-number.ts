import { randomInt } from "node:crypto";

/** Luhn (mod 10) check digit of a digit string. */
export function checkDigit(digits: string): number {
  let sum = 0;
  // Walking from the right, the digit next to the (future) check digit is doubled first.
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * A new tracking number: the carrier's prefix, 10 random digits and a Luhn check digit, e.g.
 * "MS48213957062". The check digit lets the tracking page reject a mistyped number at once.
 */
export function newTrackingNumber(
  prefix: string,
  random: (max: number) => number = randomInt,
): string {
  let digits = "";
  for (let i = 0; i < 10; i++) digits += String(random(10));
  return `${prefix}${digits}${checkDigit(digits)}`;
}

/** True when `trackingNumber` is a prefix of letters, then digits whose last is their check digit. */
export function isWellFormedTrackingNumber(trackingNumber: string): boolean {
  const match = /^[A-Z]{2}(\d{10})(\d)$/.exec(trackingNumber);
  return match !== null && checkDigit(match[1]!) === Number(match[2]);
}
