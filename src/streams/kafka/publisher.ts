/**
 * The engine's one producer: publishes from every stream are queued, grouped into produce requests
 * (`batching.*`), and sent one request at a time with acks=all and the idempotent producer, retrying
 * until `deliveryTimeoutMs`. A `publish` resolves once every one of its records is acknowledged.
 *
 * Why one request in flight: @platformatic/kafka advances idempotent sequence numbers only when a
 * response arrives, so two concurrent requests would carry the same sequence and the broker would
 * refuse the second (OUT_OF_ORDER_SEQUENCE_NUMBER, measured). Lingering keeps requests large, so one in
 * flight still moves tens of thousands of records per second (docs/kafka-client.md).
 *
 * A retry resends the same request (same records, partitions and sequence numbers), so a request the
 * broker wrote before the connection broke is deduplicated by the broker instead of written twice.
 * Back-pressure: `publish` waits while `maxPendingBytes` are queued or in flight.
 *
 * Partitioning: a keyed record goes to `murmur2(key) & 0x7fffffff % partitions`, what the Java client's
 * default partitioner does (Snowplow's collector uses it), so the same key lands in the same partition
 * whichever client wrote it; a record without key goes round robin.
 */
import { murmur2, ProduceAcks, Producer } from '@platformatic/kafka';
import type { OutRecord } from '../types.js';
import { type KafkaStreamsConfig, securityOptions } from './config.js';
import { classifySendError, describeError } from './errors.js';

interface Pending {
  topic: string;
  key: Buffer | undefined;
  value: Buffer;
  request: PublishRequest;
}

interface PublishRequest {
  remaining: number;
  settled: boolean;
  resolve(): void;
  reject(e: Error): void;
}

export class PublishError extends Error {
  override name = 'PublishError';
}

/** Java-compatible partition of a keyed record; exported for tests. */
export function partitionForKey(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

export class Publisher {
  private producer: Producer | undefined;
  private queue: Pending[] = [];
  private queueHead = 0;
  private pendingBytes = 0;
  private sending = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private spaceWaiters: Array<() => void> = [];
  private idle: Promise<void> = Promise.resolve();
  private idleResolve: (() => void) | undefined;
  private roundRobin = 0;
  private closed = false;
  private closeController = new AbortController();
  /** produce requests sent and retried, for tests and metrics */
  readonly stats = { requests: 0, retries: 0, producerResets: 0, records: 0 };

  constructor(private readonly cfg: KafkaStreamsConfig) {}

  async publish(topic: string, records: readonly OutRecord[]): Promise<void> {
    if (this.closed) throw new PublishError('the Kafka engine is closed');
    if (records.length === 0) return;
    let bytes = 0;
    for (const r of records) bytes += r.value.length;
    // back-pressure: wait for room (a publish larger than the whole budget goes alone)
    while (this.pendingBytes > 0 && this.pendingBytes + bytes > this.cfg.maxPendingBytes) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      if (this.closed) throw new PublishError('the Kafka engine is closed');
    }
    return new Promise<void>((resolve, reject) => {
      const request: PublishRequest = { remaining: records.length, settled: false, resolve, reject };
      for (const r of records) {
        const value = Buffer.isBuffer(r.value)
          ? r.value
          : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length);
        this.queue.push({
          topic,
          key: r.key === undefined ? undefined : Buffer.from(r.key, 'utf8'),
          value,
          request,
        });
      }
      this.pendingBytes += bytes;
      this.schedule();
    });
  }

  /** Resolves when everything queued so far has been sent (or has failed). */
  flush(): Promise<void> {
    if (this.queued() > 0) this.kick();
    return this.idle;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    this.closeController.abort();
    for (const w of this.spaceWaiters.splice(0)) w();
    await this.producer?.close().catch(() => undefined);
    this.producer = undefined;
  }

  private queued(): number {
    return this.queue.length - this.queueHead;
  }

  private schedule(): void {
    if (this.sending) return;
    if (!this.idleResolve) this.idle = new Promise<void>((r) => (this.idleResolve = r));
    const { maxRecords, maxBytes, lingerMs } = this.cfg.batching;
    if (this.queued() >= maxRecords || this.pendingBytes >= maxBytes || lingerMs === 0) {
      this.kick();
    } else if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => this.kick(), lingerMs);
    }
  }

  private kick(): void {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    if (this.sending) return;
    this.sending = true;
    void this.sendLoop();
  }

  private async sendLoop(): Promise<void> {
    try {
      while (this.queued() > 0) {
        const chunk = this.takeChunk();
        await this.sendChunk(chunk);
        let bytes = 0;
        for (const p of chunk) bytes += p.value.length;
        this.pendingBytes -= bytes;
        for (const w of this.spaceWaiters.splice(0)) w();
      }
    } finally {
      this.sending = false;
      if (this.queued() > 0) {
        this.schedule();
      } else {
        const r = this.idleResolve;
        this.idleResolve = undefined;
        r?.();
      }
    }
  }

  private takeChunk(): Pending[] {
    const { maxRecords, maxBytes } = this.cfg.batching;
    const chunk: Pending[] = [];
    let bytes = 0;
    while (this.queueHead < this.queue.length && chunk.length < maxRecords) {
      const p = this.queue[this.queueHead];
      if (chunk.length > 0 && bytes + p.value.length > maxBytes) break;
      chunk.push(p);
      bytes += p.value.length;
      this.queueHead++;
    }
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return chunk;
  }

  private getProducer(): Producer {
    if (!this.producer) {
      const c = this.cfg;
      this.producer = new Producer({
        clientId: c.clientId,
        bootstrapBrokers: c.brokers,
        acks: c.acks === 'all' ? ProduceAcks.ALL : ProduceAcks.LEADER,
        idempotent: c.idempotent,
        compression: c.compression,
        autocreateTopics: true,
        timeout: c.requestTimeoutMs,
        connectTimeout: c.connectTimeoutMs,
        // bounded here (the library would retry an idempotent producer forever); sendChunk retries on
        // top of it until deliveryTimeoutMs
        retries: 3,
        retryDelay: 250,
        ...securityOptions(c),
      });
    }
    return this.producer;
  }

  private async resetProducer(): Promise<void> {
    this.stats.producerResets++;
    const old = this.producer;
    this.producer = undefined;
    if (old) await new Promise<void>((resolve) => old.close(true, () => resolve()));
  }

  private async sendChunk(chunk: Pending[]): Promise<void> {
    // Partitions are fixed here, once, so every retry repeats the same request. The producer reduces
    // the number modulo the topic's partition count.
    const messages = chunk.map((p) => {
      let partition: number;
      if (p.key) partition = murmur2(p.key) & 0x7fffffff;
      else partition = this.roundRobin = (this.roundRobin + 1) & 0x7fffffff;
      return { topic: p.topic, key: p.key, value: p.value, partition };
    });
    const deadline = Date.now() + this.cfg.deliveryTimeoutMs;
    let delay = 50;
    for (let attempt = 0; ; attempt++) {
      try {
        this.stats.requests++;
        await this.getProducer().send({
          messages,
          acks: this.cfg.acks === 'all' ? ProduceAcks.ALL : ProduceAcks.LEADER,
        });
        this.stats.records += chunk.length;
        this.settle(chunk);
        return;
      } catch (e) {
        const kind = classifySendError(e);
        if (kind === 'final' || this.closeController.signal.aborted || Date.now() + delay > deadline) {
          const why = kind === 'final' ? '' : ` (gave up after ${attempt + 1} attempts)`;
          this.settle(
            chunk,
            new PublishError(`Kafka publish failed${why}: ${describeError(e)}`, { cause: e }),
          );
          return;
        }
        this.stats.retries++;
        if (kind === 'reset-producer') await this.resetProducer();
        else this.producer?.clearMetadata();
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
      }
    }
  }

  private settle(chunk: Pending[], error?: Error): void {
    for (const p of chunk) {
      const req = p.request;
      if (req.settled) continue;
      if (error) {
        req.settled = true;
        req.reject(error);
      } else if (--req.remaining === 0) {
        req.settled = true;
        req.resolve();
      }
    }
  }
}
