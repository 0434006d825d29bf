/**
 * Meta stamps webhook events with unix seconds, usually as a decimal string ("1749416383"), though
 * some older payload examples show a bare number. Returns null when the value is not a usable date
 * (not an integer, or so large that `Date` cannot represent it).
 */
export function unixSecondsToDate(value: string | number): Date | null {
  const seconds = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(seconds) || seconds < 0) return null;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** The inverse, for building payloads: a Date (or unix seconds) as the string Meta would send. */
export function toUnixSecondsString(value: Date | number): string {
  const seconds = value instanceof Date ? Math.floor(value.getTime() / 1000) : Math.floor(value);
  return String(seconds);
}
