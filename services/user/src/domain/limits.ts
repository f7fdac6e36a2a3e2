/** Most addresses one user may save (user.proto). */
export const MAX_ADDRESSES = 20;
/** Most cards one user may save (user.proto). */
export const MAX_PAYMENT_METHODS = 10;
/** Most wishlist items (user.proto). */
export const MAX_WISHLIST_ITEMS = 200;

/** True when a card expiring at the end of `month`/`year` can no longer be charged at `now`. */
export function cardExpired(month: number, year: number, now: Date): boolean {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth() + 1;
  return year < y || (year === y && month < m);
}

/** Verification-code resends allowed per email per hour; extra requests are silently dropped. */
export const MAX_VERIFICATION_RESENDS_PER_HOUR = 5;
/** Password-reset e-mails allowed per email per hour; extra requests are silently dropped. */
export const MAX_PASSWORD_RESETS_PER_HOUR = 5;
