import type { z } from 'zod';
import { ConfigValidationError, type ValidationIssue } from '../errors.ts';

/**
 * Parses `input` with `schema`; on failure throws one ConfigValidationError that lists every
 * bad key, the value received and what was expected.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ConfigValidationError(source, toValidationIssues(result.error, input));
}

export function toValidationIssues(error: z.ZodError, input: unknown): ValidationIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path.map((p) => String(p));
    if (issue.code === 'unrecognized_keys') {
      const keys = (issue as { keys: string[] }).keys;
      return {
        key: [...path, keys.join(',')].filter(Boolean).join('.'),
        received: keys.length === 1 ? valueAt(input, [...path, keys[0]!]) : keys,
        expected: 'no such key (check the spelling against the documented keys)',
      };
    }
    return {
      key: path.length > 0 ? path.join('.') : '(root)',
      received: valueAt(input, path),
      // zod's wording is "Invalid option: expected one of ..." / "Invalid input: expected string":
      // the part after "expected" is what we say was expected.
      expected: issue.message.replace(/^Invalid (input|option): (expected )?/, ''),
    };
  });
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
