/**
 * The Kafka stream engine (`streams.engine: kafka`): each Furrow stream is a Kafka topic holding exactly
 * what Snowplow's Kafka collector and enrich hold — key = partition key, value = the record's bytes
 * (Thrift CollectorPayload for raw, a TSV line for enriched, bad-row JSON for bad), the Kafka record
 * timestamp as `InRecord.timestamp`, no envelope and no headers — so Snowplow's own components can read
 * and write Furrow's topics and the other way round.
 *
 * - `publish` resolves once the broker acknowledged every record (acks=all, idempotent producer; see
 *   publisher.ts for batching, retries and back-pressure).
 * - `subscribe(group)` joins Kafka consumer group `group`; `Batch.ack()` commits offsets (see
 *   subscription.ts), so unacknowledged records are redelivered after a restart or a rebalance.
 * - `lag(group)` = Σ over partitions of (end offset − committed offset), through the admin API; a group
 *   with no commit on a partition counts from the partition's first retained offset.
 * - Topics are created on first use with `partitions` and `replicationFactor` when missing.
 *
 * @example
 *     const engine = new KafkaStreamEngine({ brokers: ['127.0.0.1:9092'] });
 *     const raw = await engine.stream('raw');            // topic furrow-raw
 *     await raw.publish([{ key: partitionKey, value: thriftBytes }]);
 *     const sub = raw.subscribe('enrich');
 *     const batch = await sub.next(500, 1000);
 *     // … enrich, publish the outputs and await them …
 *     await batch.ack();
 *     await engine.close();
 */
import { Admin } from '@platformatic/kafka';
import type { OutRecord, Stream, StreamEngine, Subscription } from '../types.js';
import {
  type KafkaStreamsConfig,
  type KafkaStreamsOptions,
  kafkaGroupId,
  parseKafkaStreamsConfig,
  securityOptions,
} from './config.js';
import { describeError, hasKafkaError } from './errors.js';
import { Publisher } from './publisher.js';
import { KafkaSubscription } from './subscription.js';

const GROUP_RE = /^[A-Za-z0-9._-]{1,249}$/;
const EARLIEST = -2n;
const LATEST = -1n;

export class KafkaStreamEngine implements StreamEngine {
  readonly kind = 'kafka';
  readonly config: KafkaStreamsConfig;
  private readonly publisher: Publisher;
  private readonly admin: Admin;
  private readonly streams = new Map<string, Promise<KafkaStream>>();
  readonly subscriptions = new Set<KafkaSubscription>();
  private closed = false;

  /** Takes options as the user writes them (validated here) or an already parsed config. */
  constructor(options: KafkaStreamsOptions | KafkaStreamsConfig = {}) {
    this.config =
      typeof (options as KafkaStreamsConfig).topicFor === 'function'
        ? (options as KafkaStreamsConfig)
        : parseKafkaStreamsConfig(options);
    const c = this.config;
    this.publisher = new Publisher(c);
    this.admin = new Admin({
      clientId: `${c.clientId}-admin`,
      bootstrapBrokers: c.brokers,
      timeout: c.requestTimeoutMs,
      connectTimeout: c.connectTimeoutMs,
      retries: 3,
      retryDelay: 300,
      ...securityOptions(c),
    });
  }

  /** Produce-side counters (requests, retries, producer resets, records). */
  get publishStats(): Readonly<Publisher['stats']> {
    return this.publisher.stats;
  }

  stream(name: string): Promise<KafkaStream> {
    if (this.closed) return Promise.reject(new Error('the Kafka engine is closed'));
    let s = this.streams.get(name);
    if (!s) {
      const topic = this.config.topicFor(name);
      s = this.ensureTopic(topic).then(() => new KafkaStream(name, topic, this));
      s.catch(() => this.streams.delete(name));
      this.streams.set(name, s);
    }
    return s;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.publisher.close();
    await this.admin.close().catch(() => undefined);
  }

  // ---- used by streams ---------------------------------------------------------------------------

  publish(topic: string, records: readonly OutRecord[]): Promise<void> {
    return this.publisher.publish(topic, records);
  }

  subscribe(topic: string, group: string): KafkaSubscription {
    if (this.closed) throw new Error('the Kafka engine is closed');
    if (!GROUP_RE.test(group)) {
      throw new Error(
        `invalid consumer group name ${JSON.stringify(group)}: use letters, digits, '.', '_' or '-'`,
      );
    }
    const sub = new KafkaSubscription(this.config, topic, group, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(sub);
    return sub;
  }

  async lag(topic: string, group: string): Promise<number> {
    const metadata = await this.admin.metadata({ topics: [topic], forceUpdate: true });
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    const partitionIndexes = Array.from({ length: count }, (_, i) => i);
    const request = (timestamp: bigint) => ({
      topics: [
        {
          name: topic,
          partitions: partitionIndexes.map((partitionIndex) => ({ partitionIndex, timestamp })),
        },
      ],
    });
    const [groups, earliest, latest] = await Promise.all([
      this.admin.listConsumerGroupOffsets({
        groups: [{ groupId: kafkaGroupId(group, topic), topics: [{ name: topic, partitionIndexes }] }],
      }),
      this.admin.listOffsets(request(EARLIEST)),
      this.admin.listOffsets(request(LATEST)),
    ]);
    const committed = new Map<number, bigint>();
    for (const t of groups[0]?.topics ?? []) {
      if (t.name !== topic) continue;
      for (const p of t.partitions) committed.set(p.partitionIndex, p.committedOffset);
    }
    const first = offsetsOf(earliest, topic);
    const end = offsetsOf(latest, topic);
    let lag = 0n;
    for (const p of partitionIndexes) {
      const start = first.get(p) ?? 0n;
      const c = committed.get(p) ?? -1n;
      const from = c >= start ? c : start;
      const e = end.get(p) ?? from;
      if (e > from) lag += e - from;
    }
    return Number(lag);
  }

  private async ensureTopic(topic: string): Promise<void> {
    const c = this.config;
    try {
      await this.admin.createTopics({
        topics: [topic],
        partitions: c.partitions,
        replicas: c.replicationFactor,
        configs: Object.entries(c.topicConfig).map(([name, value]) => ({ name, value })),
      });
    } catch (e) {
      if (!hasKafkaError(e, 'TOPIC_ALREADY_EXISTS')) {
        throw new Error(`cannot create Kafka topic ${topic} on ${c.brokers.join(',')}: ${describeError(e)}`, {
          cause: e,
        });
      }
    }
    // wait until every partition has a leader, so the first publish or fetch does not race the election
    const deadline = Date.now() + c.requestTimeoutMs;
    for (;;) {
      const md = await this.admin.metadata({ topics: [topic], forceUpdate: true });
      const t = md.topics.get(topic);
      if (t && t.partitionsCount > 0 && t.partitions.every((p) => p && p.leader >= 0)) return;
      if (Date.now() > deadline) throw new Error(`Kafka topic ${topic} has partitions without a leader`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function offsetsOf(
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; offset: bigint }> }>,
  topic: string,
): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const t of topics)
    if (t.name === topic) for (const p of t.partitions) out.set(p.partitionIndex, p.offset);
  return out;
}

export class KafkaStream implements Stream {
  constructor(
    readonly name: string,
    /** the Kafka topic backing this stream */
    readonly topic: string,
    private readonly engine: KafkaStreamEngine,
  ) {}

  publish(records: readonly OutRecord[]): Promise<void> {
    return this.engine.publish(this.topic, records);
  }

  subscribe(group: string): Subscription & { readonly assignedPartitions: number[] } {
    return this.engine.subscribe(this.topic, group);
  }

  lag(group: string): Promise<number> {
    return this.engine.lag(this.topic, group);
  }
}
