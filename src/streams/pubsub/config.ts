/**
 * Google Cloud Pub/Sub engine options as the user writes them (`streams.pubsub` in the config file),
 * validated once with defaults. A bad value fails at start with a message naming the key.
 *
 * Every Furrow stream `<name>` becomes the topic `<topicPrefix><name>`; every consumer group `<group>`
 * becomes the subscription `<topicPrefix><name>.<group>` on it. Credentials come from the environment
 * (Application Default Credentials); `PUBSUB_EMULATOR_HOST` (or `apiEndpoint`) points at the emulator.
 *
 * @example
 * const cfg = parsePubSubStreamsConfig({ projectId: 'my-project', ackDeadlineSeconds: 120 });
 * // cfg.topicPrefix === 'furrow-', cfg.ordering === true
 */
import { z } from 'zod';
import { KeyedConfigError, parsePluginOptions } from '../../runtime/plugin-config.js';

const token = /^[A-Za-z0-9_-]{1,100}$/;

export const pubSubStreamsConfigSchema = z.strictObject({
  /** the Google Cloud project; default: `PUBSUB_PROJECT_ID`, then what the credentials name */
  projectId: z
    .string()
    .regex(/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/, 'a Google Cloud project id')
    .optional(),
  /** `host:port` of the API (or of the emulator; `PUBSUB_EMULATOR_HOST` is read when this is unset) */
  apiEndpoint: z.string().min(1).optional(),
  /** topic name prefix; it must start with a letter */
  topicPrefix: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'a letter, then letters, digits, "_" or "-"')
    .default('furrow-'),
  /** a delivered, unacknowledged record is redelivered this long after delivery (leases are extended
   *  while its batch is held by a live subscription) */
  ackDeadlineSeconds: z.number().int().min(10).max(600).default(60),
  /** publish with the record key as ordering key and create subscriptions with message ordering on,
   *  so records of one key arrive in order (as with the other engines); off = more throughput */
  ordering: z.boolean().default(true),
  /**
   * topic message retention: a group subscribing for the first time is sought back this far, so it
   * starts at the oldest retained record like on the other engines; 0 = no retention (a new group
   * then sees only records published after it was created)
   */
  topicRetentionSeconds: z
    .number()
    .int()
    .refine((v) => v === 0 || (v >= 600 && v <= 31 * 24 * 3600), 'either 0 or 600..2678400 (31 days)')
    .default(7 * 24 * 3600),
  /** publisher batching: a batch is sent at this many messages… */
  publishBatchMaxMessages: z.number().int().min(1).max(1000).default(1000),
  /** …or after this long */
  publishBatchMaxMs: z.number().int().min(0).max(10_000).default(10),
  /** unary pulls each subscription keeps in flight, prefetching for `next()` (their round trips overlap) */
  pullConcurrency: z.number().int().min(1).max(16).default(2),
  /** messages a subscription holds pulled ahead of `next()`; pulling pauses above it (leases extended) */
  maxBufferedRecords: z.number().int().min(1).max(100_000).default(2000),
  /** deadline of one unary API call (pull, acknowledge, admin) */
  requestTimeoutMs: z.number().int().min(100).default(30_000),
});

export type PubSubStreamsOptions = z.input<typeof pubSubStreamsConfigSchema>;
export type PubSubStreamsConfig = Readonly<z.output<typeof pubSubStreamsConfigSchema>>;

export class PubSubConfigError extends KeyedConfigError {
  override name = 'PubSubConfigError';
}

/** Validates user options and fills defaults; throws `PubSubConfigError` naming the first bad key. */
export function parsePubSubStreamsConfig(input: unknown, keyPrefix = 'streams.pubsub'): PubSubStreamsConfig {
  const parsed = {
    data: parsePluginOptions(
      pubSubStreamsConfigSchema,
      input,
      keyPrefix,
      (key, message) => new PubSubConfigError(key, message),
    ),
  };
  return parsed.data;
}

/** Stream and group names become parts of topic and subscription ids. */
export function checkPubSubName(kind: 'stream' | 'group', name: string): void {
  if (!token.test(name)) {
    throw new Error(`invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, '_' or '-' (1-100)`);
  }
}

export function topicId(cfg: PubSubStreamsConfig, stream: string): string {
  return cfg.topicPrefix + stream;
}

export function subscriptionId(cfg: PubSubStreamsConfig, stream: string, group: string): string {
  return `${cfg.topicPrefix}${stream}.${group}`;
}
