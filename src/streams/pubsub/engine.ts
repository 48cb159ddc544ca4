/**
 * The Google Cloud Pub/Sub stream engine (`../types.ts`), on the official client `@google-cloud/pubsub`
 * (5.x: the 6.x line needs Node 22).
 *
 *     Furrow stream `raw`   → topic `<topicPrefix>raw` (with message retention)
 *     consumer group `g`    → subscription `<topicPrefix>raw.g` (created on first use; exactly-once
 *                             delivery off, message ordering on when `ordering`, never expires)
 *     record key            → attribute `furrow_key`, and the ordering key when `ordering`
 *     record timestamp      → the message's publish time
 *
 * Publishing uses the client's batching publisher; `publish` resolves when the server returned a message
 * id for every record. With `ordering`, a failed publish pauses its ordering key in the client, so the
 * keys of a failed call are resumed before the error is thrown (the caller's retry then goes through).
 *
 * Consuming uses unary `Pull` calls of the v1 `SubscriberClient` rather than the streaming pull behind
 * `subscription.on('message')`, so the engine decides exactly what it holds and leases: each
 * subscription keeps `pullConcurrency` pulls in flight that fill a buffer of at most
 * `maxBufferedRecords` messages, and `next(max, wait)` hands out up to `max` of them (waiting up to
 * `wait` for the first). One pull at a time left the consumer idle for a round trip per batch
 * (~1,400 records/s on the emulator). `Batch.ack()` is an `Acknowledge` call that resolves when the
 * server accepted it. The ack deadlines of buffered and delivered messages are extended (every half
 * `ackDeadlineSeconds`), so slow processing does not cause redelivery; a dead consumer stops extending
 * and its messages come again after `ackDeadlineSeconds`. `close()` nacks (ack deadline 0) what it holds
 * or has buffered, for immediate redelivery.
 *
 * `lag(group)`: Pub/Sub exposes a subscription's backlog only through Cloud Monitoring
 * (`subscription/num_undelivered_messages`, sampled each minute), which the emulator lacks. This engine
 * therefore returns a local, best-effort figure: records published through this engine instance since
 * it opened the stream, minus records acknowledged by this instance's subscriptions of the group, but at
 * least the records the group holds unacknowledged here. It is exact for a single process that both
 * publishes and consumes (tests, `furrow up`-style), a lower bound otherwise. In GCP, scale on
 * the Monitoring metric instead (KEDA's `gcp-pubsub` scaler reads it).
 *
 * @example
 *     const engine = await PubSubStreamEngine.connect({ projectId: 'my-project' });
 *     const raw = await engine.stream('raw');
 *     await raw.publish([{ key: 'ip', value: bytes }]);
 *     const batch = await raw.subscribe('enrich').next(500, 1000);
 *     // … process, make outputs durable …
 *     await batch.ack();
 */
import { PubSub, type Topic, v1 } from '@google-cloud/pubsub';
import { DataWaiters } from '../data-waiters.js';
import type { Batch, InRecord, OutRecord, Stream, StreamEngine, Subscription } from '../types.js';
import {
  checkPubSubName,
  type PubSubStreamsConfig,
  type PubSubStreamsOptions,
  parsePubSubStreamsConfig,
  subscriptionId,
  topicId,
} from './config.js';

export const KEY_ATTRIBUTE = 'furrow_key';

/** gRPC status codes used here */
const DEADLINE_EXCEEDED = 4;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const UNIMPLEMENTED = 12;
/** ack ids per Acknowledge / ModifyAckDeadline request (the API caps request size) */
const ACK_CHUNK = 1000;
/** messages asked for by one pull (the API's maximum) */
const PULL_MAX = 1000;
/** how long one pull waits for messages; also the longest `close()` waits for pulls in flight */
const PULL_WAIT_MS = 1000;
/** pause of a puller after an empty pull; with `pullConcurrency` pullers the idle latency is below it */
const EMPTY_PULL_PAUSE_MS = 100;

function grpcCode(e: unknown): number | undefined {
  if (e !== null && typeof e === 'object' && 'code' in e && typeof e.code === 'number') return e.code;
  return undefined;
}

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** the fields of a pulled `google.pubsub.v1.ReceivedMessage` used here */
interface ReceivedMessage {
  ackId?: string | null;
  message?: {
    data?: Uint8Array | string | null;
    attributes?: { [k: string]: string } | null;
    publishTime?: Timestamp | null;
  } | null;
}

interface Timestamp {
  seconds?: number | string | { toString(): string } | null;
  nanos?: number | null;
}

/** A protobuf Timestamp (seconds may be a Long or a string) in ms since epoch. */
export function timestampMs(t: Timestamp | null | undefined): number | undefined {
  if (t === null || t === undefined || t.seconds === null || t.seconds === undefined) return undefined;
  const s = Number(typeof t.seconds === 'number' ? t.seconds : t.seconds.toString());
  if (!Number.isFinite(s)) return undefined;
  return s * 1000 + Math.floor((t.nanos ?? 0) / 1_000_000);
}

/** The local lag estimate described in the module comment. */
export function estimateLag(published: number, acked: number, outstanding: number): number {
  return Math.max(published - acked, outstanding, 0);
}

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Per-group counters of this engine instance, shared by the group's subscriptions. */
interface GroupStats {
  acked: number;
  outstanding: number;
}

export class PubSubStreamEngine implements StreamEngine {
  readonly kind = 'pubsub';
  private readonly streams = new Map<string, Promise<PubSubStream>>();
  readonly subscriptions = new Set<PubSubSubscription>();
  private closed = false;

  private constructor(
    readonly config: PubSubStreamsConfig,
    readonly pubsub: PubSub,
    readonly subscriber: v1.SubscriberClient,
  ) {}

  static async connect(options: PubSubStreamsOptions = {}): Promise<PubSubStreamEngine> {
    const config = parsePubSubStreamsConfig(options);
    const pubsub = new PubSub({
      ...(config.projectId !== undefined ? { projectId: config.projectId } : {}),
      ...(config.apiEndpoint !== undefined ? { apiEndpoint: config.apiEndpoint } : {}),
    });
    // same endpoint, credentials (insecure for the emulator) and project as the PubSub object
    const clientConfig = await pubsub.getClientConfig();
    const subscriber = new v1.SubscriberClient(
      clientConfig as ConstructorParameters<typeof v1.SubscriberClient>[0],
    );
    return new PubSubStreamEngine(config, pubsub, subscriber);
  }

  get projectId(): string {
    return this.pubsub.projectId;
  }

  stream(name: string): Promise<Stream> {
    if (this.closed) return Promise.reject(new Error('Pub/Sub engine is closed'));
    checkPubSubName('stream', name);
    let s = this.streams.get(name);
    if (s === undefined) {
      s = this.ensureTopic(name).then((topic) => new PubSubStream(this, topic, name));
      s.catch(() => this.streams.delete(name));
      this.streams.set(name, s);
    }
    return s;
  }

  private async ensureTopic(name: string): Promise<Topic> {
    const id = topicId(this.config, name);
    const retention = this.config.topicRetentionSeconds;
    try {
      await this.pubsub.createTopic(
        { name: id, ...(retention > 0 ? { messageRetentionDuration: { seconds: retention } } : {}) },
        { timeout: this.config.requestTimeoutMs },
      );
    } catch (e) {
      if (grpcCode(e) !== ALREADY_EXISTS) throw e;
    }
    return this.pubsub.topic(id, {
      messageOrdering: this.config.ordering,
      batching: {
        maxMessages: this.config.publishBatchMaxMessages,
        maxMilliseconds: this.config.publishBatchMaxMs,
      },
    });
  }

  /** Deletes a stream's subscriptions and topic (admin and tests; no-op when absent). */
  async deleteStream(name: string): Promise<void> {
    checkPubSubName('stream', name);
    this.streams.delete(name);
    const topic = this.pubsub.topic(topicId(this.config, name));
    try {
      const [subs] = await topic.getSubscriptions();
      for (const s of subs) await s.delete().catch((e: unknown) => ignoreNotFound(e));
      await topic.delete();
    } catch (e) {
      ignoreNotFound(e);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.subscriptions].map((s) => s.close()));
    await this.subscriber.close();
    await this.pubsub.close();
  }
}

function ignoreNotFound(e: unknown): void {
  if (grpcCode(e) !== NOT_FOUND) throw e;
}

class PubSubStream implements Stream {
  private published = 0;
  private readonly groups = new Map<string, GroupStats>();
  private readonly created = new Map<string, Promise<void>>();

  constructor(
    private readonly engine: PubSubStreamEngine,
    private readonly topic: Topic,
    readonly name: string,
  ) {}

  async publish(records: readonly OutRecord[]): Promise<void> {
    const ordering = this.engine.config.ordering;
    const results = await Promise.allSettled(
      records.map((r) =>
        this.topic.publishMessage({
          data: asBuffer(r.value),
          ...(r.key !== undefined ? { attributes: { [KEY_ATTRIBUTE]: r.key } } : {}),
          ...(ordering && r.key ? { orderingKey: r.key } : {}),
        }),
      ),
    );
    let failed: unknown;
    const pausedKeys = new Set<string>();
    results.forEach((res, i) => {
      if (res.status === 'fulfilled') {
        this.published++;
        return;
      }
      failed ??= res.reason;
      const key = records[i].key;
      if (ordering && key) pausedKeys.add(key);
    });
    if (failed !== undefined) {
      for (const k of pausedKeys) this.topic.resumePublishing(k);
      const why = failed instanceof Error ? failed.message : String(failed);
      throw new Error(`Pub/Sub publish to ${this.topic.name} failed (some records may be stored): ${why}`, {
        cause: failed,
      });
    }
  }

  stats(group: string): GroupStats {
    let g = this.groups.get(group);
    if (g === undefined) {
      g = { acked: 0, outstanding: 0 };
      this.groups.set(group, g);
    }
    return g;
  }

  /** The group's subscription path, creating the subscription (and seeking it back) on first use. */
  ensureSubscription(group: string): Promise<void> {
    let p = this.created.get(group);
    if (p === undefined) {
      p = this.createSubscription(group);
      p.catch(() => this.created.delete(group));
      this.created.set(group, p);
    }
    return p;
  }

  private async createSubscription(group: string): Promise<void> {
    const cfg = this.engine.config;
    const id = subscriptionId(cfg, this.name, group);
    const opts = { timeout: cfg.requestTimeoutMs };
    try {
      const [sub] = await this.topic.createSubscription(id, {
        ackDeadlineSeconds: cfg.ackDeadlineSeconds,
        enableExactlyOnceDelivery: false,
        enableMessageOrdering: cfg.ordering,
        expirationPolicy: {}, // never expires (the default deletes it after 31 idle days)
        gaxOpts: opts,
      });
      // A new subscription receives only what is published after it exists; seeking it back over the
      // topic's retention makes a new group start at the oldest retained record, as on other engines.
      if (cfg.topicRetentionSeconds > 0) {
        try {
          await sub.seek(new Date(Date.now() - cfg.topicRetentionSeconds * 1000), opts);
        } catch (e) {
          // The emulator does not implement seek on ordered subscriptions (it delivers earlier records
          // anyway). Any other failure: remove the subscription so the next attempt seeks again.
          if (grpcCode(e) === UNIMPLEMENTED) return;
          await sub.delete().catch(() => undefined);
          throw e;
        }
      }
    } catch (e) {
      if (grpcCode(e) !== ALREADY_EXISTS) throw e;
    }
  }

  path(group: string): string {
    return this.engine.subscriber.subscriptionPath(
      this.engine.projectId,
      subscriptionId(this.engine.config, this.name, group),
    );
  }

  subscribe(group: string): Subscription {
    checkPubSubName('group', group);
    const sub = new PubSubSubscription(this.engine, this, group);
    this.engine.subscriptions.add(sub);
    return sub;
  }

  async lag(group: string): Promise<number> {
    checkPubSubName('group', group);
    const g = this.stats(group);
    return estimateLag(this.published, g.acked, g.outstanding);
  }
}

/** A pulled message waiting in a subscription's buffer for `next()`. */
interface Pulled {
  ackId: string;
  record: InRecord;
}

class PubSubSubscription implements Subscription {
  /** ack ids delivered in a batch and not yet acked: leases extended, nacked on close */
  private readonly held = new Set<string>();
  /**
   * Messages pulled ahead of `next()`. Their leases are extended like held ones and they are nacked on
   * close, so prefetching changes nothing about redelivery: a record is acked only through its batch.
   */
  private buffer: Pulled[] = [];
  private bufferHead = 0;
  private readonly stats: GroupStats;
  private readonly timer: NodeJS.Timeout;
  private readonly dataWaiters = new DataWaiters();
  private spaceWaiters: Array<() => void> = [];
  private pullers: Promise<void>[] | undefined;
  /** the last pull error, thrown by the next `next()` that finds nothing buffered */
  private failure: unknown;
  private busy = false;
  private closed = false;

  constructor(
    private readonly engine: PubSubStreamEngine,
    private readonly stream: PubSubStream,
    readonly group: string,
  ) {
    this.stats = stream.stats(group);
    const every = (engine.config.ackDeadlineSeconds * 1000) / 2;
    this.timer = setInterval(() => void this.extendLeases(), every);
    this.timer.unref();
  }

  private buffered(): number {
    return this.buffer.length - this.bufferHead;
  }

  private async extendLeases(): Promise<void> {
    if (this.closed) return;
    const ids = [...this.held];
    for (let i = this.bufferHead; i < this.buffer.length; i++) ids.push(this.buffer[i].ackId);
    if (ids.length === 0) return;
    await this.modify(ids, this.engine.config.ackDeadlineSeconds).catch(() => {
      // best effort: a missed extension only risks an early redelivery
    });
  }

  private async modify(ackIds: string[], seconds: number): Promise<void> {
    const subscription = this.stream.path(this.group);
    const timeout = this.engine.config.requestTimeoutMs;
    for (const ids of chunks(ackIds, ACK_CHUNK)) {
      await this.engine.subscriber.modifyAckDeadline(
        { subscription, ackIds: ids, ackDeadlineSeconds: seconds },
        { timeout },
      );
    }
  }

  async next(maxRecords: number, maxWaitMs: number): Promise<Batch> {
    if (this.closed) throw new Error('subscription is closed');
    if (this.busy) throw new Error('next() called again before the previous call returned');
    if (!(maxRecords >= 1)) throw new RangeError('maxRecords must be at least 1');
    this.busy = true;
    try {
      if (this.pullers === undefined) {
        await this.stream.ensureSubscription(this.group);
        if (this.closed) return emptyBatch();
        this.pullers ??= Array.from({ length: this.engine.config.pullConcurrency }, () => this.pullLoop());
      }
      if (this.buffered() === 0) {
        this.throwFailure();
        if (maxWaitMs > 0) {
          await this.dataWaiters.wait(maxWaitMs);
        }
        if (this.closed) return emptyBatch();
        if (this.buffered() === 0) this.throwFailure();
      }
      return this.take(maxRecords);
    } finally {
      this.busy = false;
    }
  }

  private throwFailure(): void {
    const e = this.failure;
    if (e === undefined) return;
    this.failure = undefined;
    throw e;
  }

  /**
   * One of `pullConcurrency` loops of unary pulls filling the buffer. A single pull costs a round trip
   * to the server for at most a few hundred messages; several in flight overlap those round trips with
   * the caller's processing (bench/streams: consume + commit on the emulator rose about fourfold when
   * pulls stopped waiting for each other; current figures in BENCHMARKS.md).
   */
  private async pullLoop(): Promise<void> {
    const cfg = this.engine.config;
    const subscription = this.stream.path(this.group);
    let delay = 100;
    while (!this.closed) {
      const room = cfg.maxBufferedRecords - this.buffered();
      if (room <= 0) {
        await new Promise<void>((r) => this.spaceWaiters.push(r));
        continue;
      }
      let received: ReceivedMessage[] = [];
      try {
        const [res] = await this.engine.subscriber.pull(
          { subscription, maxMessages: Math.min(PULL_MAX, room) },
          { timeout: PULL_WAIT_MS, retry: undefined },
        );
        received = res.receivedMessages ?? [];
        delay = 100;
      } catch (e) {
        if (this.closed) break;
        if (grpcCode(e) !== DEADLINE_EXCEEDED) {
          this.failure = e;
          this.dataWaiters.wake();
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 2000);
        }
        continue;
      }
      if (received.length === 0) {
        // the emulator (and at times the service) answers an empty subscription at once, not at the
        // deadline: without a pause the loop would spin (measured ~1,000 pulls/s, most of a core)
        if (!this.closed) await new Promise((r) => setTimeout(r, EMPTY_PULL_PAUSE_MS));
        continue;
      }
      if (this.closed) {
        // closed while this pull was in flight: give its messages back at once
        await this.nack(received.map((m) => m.ackId ?? '').filter((id) => id !== '')).catch(() => undefined);
        break;
      }
      this.failure = undefined;
      for (const m of received) {
        if (!m.ackId) continue;
        this.buffer.push({ ackId: m.ackId, record: toRecord(m) });
        this.stats.outstanding++;
      }
      this.dataWaiters.wake();
    }
  }

  private take(maxRecords: number): Batch {
    const n = Math.min(maxRecords, this.buffered());
    if (n === 0) return emptyBatch();
    const taken = this.buffer.slice(this.bufferHead, this.bufferHead + n);
    this.bufferHead += n;
    if (this.bufferHead === this.buffer.length) {
      this.buffer = [];
      this.bufferHead = 0;
    } else if (this.bufferHead > 4096) {
      this.buffer = this.buffer.slice(this.bufferHead);
      this.bufferHead = 0;
    }
    for (const w of this.spaceWaiters.splice(0)) w();
    const ackIds = taken.map((p) => p.ackId);
    const records = taken.map((p) => p.record);
    for (const id of ackIds) this.held.add(id);
    let acked: Promise<void> | undefined;
    return {
      records,
      ack: () => {
        acked ??= this.ack(ackIds).catch((e: unknown) => {
          acked = undefined; // the caller may retry
          throw e;
        });
        return acked;
      },
    };
  }

  private async ack(ackIds: string[]): Promise<void> {
    const subscription = this.stream.path(this.group);
    const timeout = this.engine.config.requestTimeoutMs;
    for (const ids of chunks(ackIds, ACK_CHUNK)) {
      await this.engine.subscriber.acknowledge({ subscription, ackIds: ids }, { timeout });
      for (const id of ids) {
        if (this.held.delete(id)) this.stats.outstanding--;
      }
      this.stats.acked += ids.length;
    }
  }

  private async nack(ackIds: string[]): Promise<void> {
    if (ackIds.length > 0) await this.modify(ackIds, 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.engine.subscriptions.delete(this);
    this.dataWaiters.wake();
    for (const w of this.spaceWaiters.splice(0)) w();
    const ids = [...this.held];
    for (let i = this.bufferHead; i < this.buffer.length; i++) ids.push(this.buffer[i].ackId);
    this.held.clear();
    this.buffer = [];
    this.bufferHead = 0;
    this.stats.outstanding -= ids.length;
    // immediate redelivery of what this subscription holds (a dead process's wait for the ack deadline)
    await this.nack(ids).catch(() => undefined);
    // pulls in flight end within PULL_WAIT_MS and nack what they bring
    await Promise.all(this.pullers ?? []);
  }
}

function toRecord(m: ReceivedMessage): InRecord {
  const msg = m.message ?? {};
  const data = msg.data;
  const value = data instanceof Uint8Array ? data : Buffer.from(data ?? '', 'base64');
  const r: InRecord = { value, timestamp: timestampMs(msg.publishTime) ?? Date.now() };
  const key = msg.attributes?.[KEY_ATTRIBUTE];
  if (key !== undefined && key !== null) r.key = key;
  return r;
}

function emptyBatch(): Batch {
  return { records: [], ack: async () => {} };
}
