/**
 * Kafka engine options as the user writes them (`streams.kafka` in the config file), validated once with
 * defaults. A bad value fails at start with a message naming the key.
 *
 * Every Furrow stream `<name>` maps to one Kafka topic: `topics.<name>` when given (so Furrow can read and
 * write the topics a Snowplow pipeline already uses, e.g. `topics: { raw: 'snowplow-raw-good' }`), else
 * `<topicPrefix><name>`. Topics are created when missing with `partitions`/`replicationFactor`.
 * Records are written as Snowplow's Kafka collector and enrich write them: the key is the partition key,
 * the value the bytes unchanged (Thrift CollectorPayload, enriched TSV, bad-row JSON), no envelope.
 *
 * @example
 * const cfg = parseKafkaStreamsConfig({ brokers: ['kafka-0.kafka:9092'], replicationFactor: 3 });
 * // cfg.topicFor('raw') === 'furrow-raw', cfg.acks === 'all', cfg.batching.lingerMs === 5
 */
import { z } from 'zod';
import { KeyedConfigError, parsePluginOptions } from '../../runtime/plugin-config.js';

/** Kafka topic names: 1-249 of letters, digits, '.', '_' and '-' (and not '.' or '..'). */
const topicName = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,249}$/, 'letters, digits, ".", "_" or "-" only (1-249)')
  .refine((s) => s !== '.' && s !== '..', 'may not be "." or ".."');

const positiveMs = (def: number, min = 0) => z.number().int().min(min).default(def);

export const kafkaStreamsConfigSchema = z.strictObject({
  /** bootstrap brokers, `host:port` */
  brokers: z
    .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected "host:port"'))
    .min(1)
    .default(['127.0.0.1:9092']),
  /** client id sent to the brokers (quotas, logs) */
  clientId: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" or "-" only')
    .default('furrow'),
  /** topic of stream `<name>` when `topics.<name>` is not set: `<topicPrefix><name>` */
  topicPrefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]{0,100}$/, 'letters, digits, ".", "_" or "-" only')
    .default('furrow-'),
  /** explicit topic per stream: `raw`, `enriched`, `bad`, or any other stream name */
  topics: z
    .object({ raw: topicName.optional(), enriched: topicName.optional(), bad: topicName.optional() })
    .catchall(topicName)
    .default({}),
  /** partitions of topics this engine creates (existing topics are left as they are) */
  partitions: z.number().int().min(1).max(10_000).default(4),
  /** replication factor of topics this engine creates (3 on a real cluster) */
  replicationFactor: z.number().int().min(1).max(32).default(1),
  /** extra topic configs for created topics, e.g. `{ "retention.ms": "604800000" }` */
  topicConfig: z.record(z.string().min(1), z.string()).default({}),
  /** producer acknowledgement: `all` (every in-sync replica; the only setting that keeps "durable" true) or `leader` */
  acks: z.enum(['all', 'leader']).default('all'),
  /** idempotent producer: broker-side dedup of retried batches (needs one request in flight, which we keep) */
  idempotent: z.boolean().default(true),
  /**
   * batch compression. zstd is not offered: Node 20 has no zstd codec (topics written with zstd by other
   * producers cannot be read either).
   */
  compression: z.enum(['none', 'gzip', 'snappy', 'lz4']).default('none'),
  batching: z
    .strictObject({
      /** how long a publish waits for more records to share its produce request */
      lingerMs: positiveMs(5),
      /** payload bytes per produce request (a request always holds at least one record) */
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /** records per produce request */
      maxRecords: z.number().int().min(1).default(1000),
    })
    .default({ lingerMs: 5, maxBytes: 1024 * 1024, maxRecords: 1000 }),
  /** back-pressure: `publish` waits while this many payload bytes are queued or in flight */
  maxPendingBytes: z
    .number()
    .int()
    .min(1024)
    .default(64 * 1024 * 1024),
  /** a publish fails once its records could not be acknowledged for this long (retries until then) */
  deliveryTimeoutMs: positiveMs(120_000, 100),
  /** one request's timeout (produce, fetch beyond its wait, admin) */
  requestTimeoutMs: positiveMs(30_000, 100),
  /** TCP connect timeout */
  connectTimeoutMs: positiveMs(5_000, 100),
  consumer: z
    .strictObject({
      /** the group coordinator drops a member that sent no heartbeat for this long */
      sessionTimeoutMs: positiveMs(10_000, 1000),
      heartbeatIntervalMs: positiveMs(1_000, 100),
      /** how long the coordinator waits for members to rejoin during a rebalance */
      rebalanceTimeoutMs: positiveMs(15_000, 1000),
      /** broker-side long-poll of one fetch */
      fetchMaxWaitMs: positiveMs(500, 10),
      /** bytes per fetch response, and per partition in it */
      fetchMaxBytes: z
        .number()
        .int()
        .min(1024)
        .default(10 * 1024 * 1024),
      partitionMaxBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /** records fetched ahead of `next()` per subscription; fetching pauses above it */
      maxBufferedRecords: z.number().int().min(1).default(20_000),
      /** where a group with no committed offset starts: `earliest` (default; nothing is skipped) or `latest` */
      autoOffsetReset: z.enum(['earliest', 'latest']).default('earliest'),
    })
    .default({
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
      rebalanceTimeoutMs: 15_000,
      fetchMaxWaitMs: 500,
      fetchMaxBytes: 10 * 1024 * 1024,
      partitionMaxBytes: 1024 * 1024,
      maxBufferedRecords: 20_000,
      autoOffsetReset: 'earliest',
    }),
  /** TLS to the brokers (`true` = system CAs) */
  tls: z.boolean().default(false),
  sasl: z
    .strictObject({
      mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
      username: z.string().min(1),
      password: z.string(),
    })
    .optional(),
});

export type KafkaStreamsOptions = z.input<typeof kafkaStreamsConfigSchema>;
export type KafkaStreamsConfig = Readonly<z.output<typeof kafkaStreamsConfigSchema>> & {
  /** the topic that backs Furrow stream `name` */
  topicFor(name: string): string;
};

/** The connection security options every client of the engine (admin, producer, consumer, fetch pool) takes. */
export function securityOptions(c: Pick<KafkaStreamsConfig, 'tls' | 'sasl'>): {
  tls?: Record<string, never>;
  sasl?: {
    mechanism: NonNullable<KafkaStreamsConfig['sasl']>['mechanism'];
    username: string;
    password: string;
  };
} {
  return {
    ...(c.tls ? { tls: {} } : {}),
    ...(c.sasl
      ? { sasl: { mechanism: c.sasl.mechanism, username: c.sasl.username, password: c.sasl.password } }
      : {}),
  };
}

export class KafkaConfigError extends KeyedConfigError {
  override name = 'KafkaConfigError';
}

/** Validates user options and fills defaults; throws `KafkaConfigError` naming the first bad key. */
export function parseKafkaStreamsConfig(input: unknown, keyPrefix = 'streams.kafka'): KafkaStreamsConfig {
  const parsed = {
    data: parsePluginOptions(
      kafkaStreamsConfigSchema,
      input,
      keyPrefix,
      (key, message) => new KafkaConfigError(key, message),
    ),
  };
  const cfg = parsed.data;
  if (cfg.consumer.heartbeatIntervalMs * 3 > cfg.consumer.sessionTimeoutMs) {
    throw new KafkaConfigError(
      `${keyPrefix}.consumer.heartbeatIntervalMs`,
      `must be at most a third of consumer.sessionTimeoutMs (${cfg.consumer.sessionTimeoutMs})`,
    );
  }
  const topics = cfg.topics as Record<string, string | undefined>;
  const prefix = cfg.topicPrefix;
  return {
    ...cfg,
    topicFor(name: string): string {
      const topic = topics[name] ?? `${prefix}${name}`;
      if (!topicName.safeParse(topic).success) {
        throw new KafkaConfigError(
          `${keyPrefix}.topics.${name}`,
          `"${topic}" is not a valid Kafka topic name`,
        );
      }
      return topic;
    },
  };
}

/**
 * The Kafka consumer group behind Furrow group `group` on `topic`. One Kafka group per topic: a Furrow
 * role that reads two streams with one group name (the loader reads `enriched` and `bad`) would otherwise
 * be two members of one Kafka group whose assignment ignores which topic each member reads, and half the
 * partitions would go to the member that never fetches them.
 */
export function kafkaGroupId(group: string, topic: string): string {
  return `${group}.${topic}`;
}
