import type { z } from 'zod';

// Small readers shared by the Cloud API and Evolution parsers, which take untrusted JSON and must
// never throw on it.

/** Runs `work`, turning anything it throws into `report(reason)` instead of an exception. */
export function guard(report: (reason: string) => void, path: string, work: () => void): void {
  try {
    work();
  } catch (error) {
    report(`${path}: unexpected error while reading (${error instanceof Error ? error.message : 'non-error thrown'})`);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isString(value: string | null | undefined): value is string {
  return typeof value === 'string';
}

export function nonBlank(value: string | null | undefined): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

/** A short, log-safe description of an unexpected value (never the whole value: it may be huge). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'undefined') return 'missing';
  return `a ${typeof value}`;
}

/** The first issue is enough to find the problem in a log line; the count says if there are more. */
export function describeIssues(error: z.ZodError): string {
  const [first] = error.issues;
  if (!first) return 'invalid';
  const where = first.path.length > 0 ? `${first.path.map(String).join('.')}: ` : '';
  const more = error.issues.length > 1 ? ` (+${error.issues.length - 1} more)` : '';
  return `${where}${first.message}${more}`;
}
