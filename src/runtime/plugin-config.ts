/**
 * Options of a plug-in (a stream engine, a loader) are validated by the plug-in itself with zod; this is
 * the one place that turns the first zod issue into an error naming the dotted key, e.g.
 * `streams.kafka.batching.lingerMs: Too small: expected number to be >=0`.
 */
import type { z } from 'zod';

/** A configuration error at one key; plug-ins subclass it to give errors their own name. */
export class KeyedConfigError extends Error {
  override name = 'KeyedConfigError';
  constructor(
    /** the dotted key at fault, or an environment variable name */
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
  }
}

/** The first issue of a failed parse as `{key, message}`, with keys below `prefix`. */
export function firstIssue(error: z.ZodError, prefix: string): { key: string; message: string } {
  const issue = error.issues[0];
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const path = [...issue.path, ...keys.slice(0, 1)].map(String);
  return {
    key: path.length > 0 ? `${prefix}.${path.join('.')}` : prefix,
    message: issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message,
  };
}

/** Parses `input` (absent = `{}`) or throws the plug-in's error for the first bad key. */
export function parsePluginOptions<S extends z.ZodType>(
  schema: S,
  input: unknown,
  prefix: string,
  makeError: (key: string, message: string) => Error,
): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const { key, message } = firstIssue(parsed.error, prefix);
  throw makeError(key, message);
}
