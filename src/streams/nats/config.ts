/**
 * NATS JetStream engine options as the user writes them (`streams.nats` in the config file), validated
 * once with defaults. A bad value fails at start with a message naming the key.
 *
 * Every Furrow stream `<name>` becomes one JetStream stream `<streamPrefix><name>` capturing the subject
 * `<subjectPrefix>.<name>`; every consumer group becomes one durable pull consumer named after the group.
 *
 * @example
 * const cfg = parseNatsStreamsConfig({ servers: ['nats://nats-headless:4222'], replicas: 3 });
 * // cfg.ackWaitMs === 30_000, cfg.storage === 'file'
 */
import { z } from 'zod';
import { KeyedConfigError, parsePluginOptions } from '../../runtime/plugin-config.js';

/** JetStream stream and consumer names may not contain `.`, `*`, `>`, whitespace or path separators. */
const natsToken = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" or "-" only (1-64)');

export const natsStreamsConfigSchema = z.strictObject({
  /** server URLs, e.g. `nats://127.0.0.1:4222`; several for a cluster */
  servers: z.array(z.string().min(1)).min(1).default(['nats://127.0.0.1:4222']),
  /** connection name shown by the server's monitoring (`connz`) */
  name: z.string().min(1).default('furrow'),
  /** optional user/password or token authentication */
  user: z.string().min(1).optional(),
  pass: z.string().optional(),
  token: z.string().min(1).optional(),
  /** JetStream stream name prefix; stream `raw` is stored as `<streamPrefix>raw` */
  streamPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]{0,32}$/, 'letters, digits, "_" or "-" only')
    .default('furrow-'),
  /** subject prefix; stream `raw` captures `<subjectPrefix>.raw` */
  subjectPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens without wildcards')
    .default('furrow'),
  /** `file` (durable, default) or `memory` (tests only: lost on server restart) */
  storage: z.enum(['file', 'memory']).default('file'),
  /** stream replicas (R3 for a 3-node cluster); only applied when the stream is created or updated */
  replicas: z.number().int().min(1).max(5).default(1),
  /** cap on a stream's stored bytes, -1 = unlimited */
  maxBytes: z.number().int().min(-1).default(-1),
  /** drop records older than this, 0 = keep until `maxBytes` */
  maxAgeMs: z
    .number()
    .int()
    .min(0)
    .default(7 * 24 * 3600_000),
  /**
   * what happens when `maxBytes` is reached: `old` drops the oldest records (even unconsumed ones),
   * `new` rejects publishes (backpressure: the collector answers 503 or keeps records in its spool)
   */
  discard: z.enum(['old', 'new']).default('old'),
  /** window in which a repeated `Nats-Msg-Id` is dropped as a duplicate */
  duplicateWindowMs: z.number().int().min(100).default(120_000),
  /** a delivered, unacknowledged record is redelivered after this long */
  ackWaitMs: z.number().int().min(100).default(30_000),
  /** delivered-but-unacknowledged records per group before the server stops delivering */
  maxAckPending: z.number().int().min(1).default(20_000),
  /** how long `publish` waits for each PubAck, and a batch ack for its confirmation */
  requestTimeoutMs: z.number().int().min(100).default(10_000),
  /** records of one `publish` call in flight at once */
  maxInFlight: z.number().int().min(1).max(100_000).default(1024),
});

export type NatsStreamsOptions = z.input<typeof natsStreamsConfigSchema>;
export type NatsStreamsConfig = Readonly<z.output<typeof natsStreamsConfigSchema>>;

export class NatsConfigError extends KeyedConfigError {
  override name = 'NatsConfigError';
}

/** Validates user options and fills defaults; throws `NatsConfigError` naming the first bad key. */
export function parseNatsStreamsConfig(input: unknown, keyPrefix = 'streams.nats'): NatsStreamsConfig {
  const parsed = {
    data: parsePluginOptions(
      natsStreamsConfigSchema,
      input,
      keyPrefix,
      (key, message) => new NatsConfigError(key, message),
    ),
  };
  return parsed.data;
}

/** Furrow stream and group names must also be valid JetStream names (checked when used). */
export function checkNatsName(kind: 'stream' | 'group', name: string): void {
  if (!natsToken.safeParse(name).success) {
    throw new Error(`invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, '_' or '-' (1-64)`);
  }
}
