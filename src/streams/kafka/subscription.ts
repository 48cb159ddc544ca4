/**
 * One consumer-group member reading one topic: a @platformatic/kafka `Consumer` does the group protocol
 * (join, sync, heartbeats, rejoin on rebalance); this class runs its own fetch loop so that positions,
 * buffering and commits follow Furrow's at-least-once contract exactly:
 *
 * - after every (re)join, the buffer is dropped and each assigned partition restarts at the group's
 *   committed offset (`autoOffsetReset` when there is none, clamped to the retained range), so records
 *   delivered but never acknowledged go out again: to this member, or to whoever owns the partition now;
 * - `Batch.ack()` commits, per partition, the end (offset + 1) of the longest run of acknowledged batches
 *   from the oldest one delivered: acknowledging batch 2 while batch 1 is still open commits nothing for
 *   the partitions they share, so a crash can never skip batch 1;
 * - commits of one member are serialized and never move a partition's offset backwards;
 * - fetching pauses above `consumer.maxBufferedRecords` (back-pressure from a slow `next()`).
 */
import { type ClusterMetadata, ConnectionPool, Consumer } from '@platformatic/kafka';
import { DataWaiters } from '../data-waiters.js';
import type { Batch, InRecord, Subscription } from '../types.js';
import { type KafkaStreamsConfig, kafkaGroupId, securityOptions } from './config.js';
import { describeError, hasKafkaError } from './errors.js';

const EARLIEST = -2n;
const LATEST = -1n;
const LOG_APPEND_TIME = 0x08;
const CONTROL_BATCH = 0x20;
const READ_UNCOMMITTED = 0;

interface Delivery {
  end: bigint;
  acked: boolean;
}

/** Per-partition state of one generation of the group. */
interface PartitionState {
  partition: number;
  /** next offset to fetch */
  position: bigint;
  /** batches delivered from this partition, oldest first, until committed */
  outstanding: Delivery[];
}

interface Buffered extends InRecord {
  partition: number;
  offset: bigint;
}

export class KafkaSubscription implements Subscription {
  private readonly consumer: Consumer;
  /**
   * Fetches get their own connections. A broker answers the requests of one connection strictly in
   * order, so on the consumer's shared connection a commit or heartbeat queued behind a long-polling
   * fetch waited up to `fetchMaxWaitMs` (measured: ~450 ms per commit, which capped consumption at
   * ~2,300 records/s). The client's own `consume()` stream does the same.
   */
  private readonly fetchPool: ConnectionPool;
  private generation = 0;
  private parts = new Map<number, PartitionState>();
  /** set after a join; the loop reloads committed offsets before fetching */
  private needRefresh = false;
  /** the first join, and again after a background rejoin failed */
  private needJoin = true;
  private buffer: Buffered[] = [];
  private bufferHead = 0;
  private readonly dataWaiters = new DataWaiters();
  private spaceWaiters: Array<() => void> = [];
  private closed = false;
  private loop: Promise<void>;
  private failure: Error | undefined;
  private commitChain: Promise<void> = Promise.resolve();
  /** highest offset this member committed per partition; commits never go below it */
  private readonly committed = new Map<number, bigint>();
  private wake: (() => void) | undefined;

  constructor(
    private readonly cfg: KafkaStreamsConfig,
    private readonly topic: string,
    readonly group: string,
    private readonly onClose: (s: KafkaSubscription) => void,
  ) {
    const c = cfg.consumer;
    this.consumer = new Consumer({
      clientId: cfg.clientId,
      groupId: kafkaGroupId(group, topic),
      bootstrapBrokers: cfg.brokers,
      sessionTimeout: c.sessionTimeoutMs,
      heartbeatInterval: c.heartbeatIntervalMs,
      rebalanceTimeout: c.rebalanceTimeoutMs,
      maxWaitTime: c.fetchMaxWaitMs,
      maxBytes: c.fetchMaxBytes,
      autocommit: false,
      timeout: cfg.requestTimeoutMs,
      connectTimeout: cfg.connectTimeoutMs,
      retries: 5,
      retryDelay: 500,
      ...securityOptions(cfg),
    });
    this.fetchPool = new ConnectionPool(cfg.clientId, {
      connectTimeout: cfg.connectTimeoutMs,
      requestTimeout: cfg.requestTimeoutMs + c.fetchMaxWaitMs,
      ...securityOptions(cfg),
    });
    this.consumer.on('consumer:group:join', (payload) => this.onJoin(payload.assignments));
    // a failed background rejoin is reported as an 'error' event; the loop retries the join
    this.consumer.on('error', () => {
      this.needJoin = true;
    });
    this.loop = this.run();
  }

  /** Partitions this member owns now (for tests and metrics). */
  get assignedPartitions(): number[] {
    return [...this.parts.keys()].sort((a, b) => a - b);
  }

  async next(maxRecords: number, maxWaitMs: number): Promise<Batch> {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error(`subscription of group ${this.group} to ${this.topic} is closed`);
    if (this.buffered() === 0 && maxWaitMs > 0) {
      await this.dataWaiters.wait(maxWaitMs);
      if (this.failure) throw this.failure;
    }
    const n = Math.min(Math.max(1, maxRecords), this.buffered());
    if (n === 0) return { records: [], ack: async () => undefined };
    const taken = this.buffer.slice(this.bufferHead, this.bufferHead + n);
    this.bufferHead += n;
    if (this.bufferHead > 4096 && this.bufferHead * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.bufferHead);
      this.bufferHead = 0;
    }
    for (const w of this.spaceWaiters.splice(0)) w();
    // one delivery per partition: the end of what this batch holds from it
    const ends = new Map<number, bigint>();
    for (const r of taken) {
      const end = r.offset + 1n;
      if ((ends.get(r.partition) ?? -1n) < end) ends.set(r.partition, end);
    }
    const deliveries: Array<[PartitionState, Delivery]> = [];
    for (const [partition, end] of ends) {
      const state = this.parts.get(partition);
      if (!state) continue; // cannot happen: the buffer only holds owned partitions
      const d: Delivery = { end, acked: false };
      state.outstanding.push(d);
      deliveries.push([state, d]);
    }
    const records: InRecord[] = taken.map((r) =>
      r.key === undefined
        ? { value: r.value, timestamp: r.timestamp }
        : { key: r.key, value: r.value, timestamp: r.timestamp },
    );
    let acking: Promise<void> | undefined;
    return {
      records,
      ack: () => {
        acking ??= this.ack(deliveries);
        return acking;
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return this.loop;
    this.closed = true;
    this.dataWaiters.wake();
    for (const w of this.spaceWaiters.splice(0)) w();
    this.wake?.();
    await this.loop;
    await this.commitChain.catch(() => undefined);
    // leaving the group hands this member's partitions to the others at once
    await this.consumer.close().catch(() => undefined);
    await this.fetchPool.close().catch(() => undefined);
    this.onClose(this);
  }

  // ---- acknowledgements --------------------------------------------------------------------------

  private ack(deliveries: Array<[PartitionState, Delivery]>): Promise<void> {
    for (const [, d] of deliveries) d.acked = true;
    const offsets: Array<{ topic: string; partition: number; offset: bigint; leaderEpoch: number }> = [];
    for (const [state] of deliveries) {
      let end: bigint | undefined;
      while (state.outstanding.length > 0 && state.outstanding[0].acked) end = state.outstanding.shift()!.end;
      if (end !== undefined)
        offsets.push({ topic: this.topic, partition: state.partition, offset: end, leaderEpoch: -1 });
    }
    if (offsets.length === 0) return this.commitChain;
    const p = this.commitChain.then(() => this.commit(offsets));
    this.commitChain = p.catch(() => undefined);
    return p;
  }

  private async commit(
    all: Array<{ topic: string; partition: number; offset: bigint; leaderEpoch: number }>,
  ) {
    // never move a partition's committed offset backwards (a late ack from before a rebalance)
    const offsets = all.filter((o) => o.offset > (this.committed.get(o.partition) ?? -1n));
    if (offsets.length === 0) return;
    const deadline = Date.now() + this.cfg.deliveryTimeoutMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      try {
        await this.consumer.commit({ offsets });
        for (const o of offsets) this.committed.set(o.partition, o.offset);
        return;
      } catch (e) {
        // A member that was removed from the group (session expired, group rebalanced without it)
        // cannot commit; its records go to the partition's new owner, which is at least once.
        if (hasKafkaError(e, 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID')) return;
        if (this.consumer.closed) throw e;
        if (Date.now() + delay > deadline) {
          throw new Error(`Kafka commit for group ${this.group} failed: ${describeError(e)}`, { cause: e });
        }
        await sleep(delay);
      }
    }
  }

  // ---- fetching ----------------------------------------------------------------------------------

  private buffered(): number {
    return this.buffer.length - this.bufferHead;
  }

  private onJoin(assignments: Array<{ topic: string; partitions: number[] }> | undefined): void {
    this.generation++;
    const mine = assignments?.find((a) => a.topic === this.topic)?.partitions ?? [];
    this.parts = new Map(mine.map((p) => [p, { partition: p, position: -1n, outstanding: [] }]));
    this.buffer = [];
    this.bufferHead = 0;
    this.needRefresh = true;
    for (const w of this.spaceWaiters.splice(0)) w();
    this.wake?.();
  }

  private async run(): Promise<void> {
    let delay = 100;
    this.consumer.topics.track(this.topic);
    while (!this.closed) {
      try {
        if (this.needJoin) {
          await this.consumer.joinGroup({});
          this.needJoin = false;
          continue;
        }
        if (this.needRefresh) {
          await this.refreshPositions();
          continue;
        }
        if (this.parts.size === 0) {
          await this.idle(500);
          continue;
        }
        if (this.buffered() >= this.cfg.consumer.maxBufferedRecords) {
          await new Promise<void>((r) => this.spaceWaiters.push(r));
          continue;
        }
        await this.fetchOnce();
        delay = 100;
      } catch (e) {
        if (this.closed) break;
        if (hasKafkaError(e, 'OFFSET_OUT_OF_RANGE')) this.needRefresh = true;
        this.consumer.clearMetadata();
        if (hasKafkaError(e, 'PLT_KFK_USER') && !hasKafkaError(e, 'PLT_KFK_NETWORK')) {
          // programming or configuration errors (bad options) do not heal: surface them
          this.failure = new Error(`Kafka consumer for group ${this.group} failed: ${describeError(e)}`, {
            cause: e,
          });
          this.dataWaiters.wake();
          return;
        }
        await this.idle(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async refreshPositions(): Promise<void> {
    const generation = this.generation;
    const partitions = [...this.parts.keys()];
    this.needRefresh = false;
    if (partitions.length === 0) return;
    const [committed, earliest, latest] = await Promise.all([
      this.consumer.listCommittedOffsets({ topics: [{ topic: this.topic, partitions }] }),
      this.consumer.listOffsets({ topics: [this.topic], timestamp: EARLIEST }),
      this.consumer.listOffsets({ topics: [this.topic], timestamp: LATEST }),
    ]);
    if (generation !== this.generation) return; // a newer join happened meanwhile; it refreshes again
    const c = committed.get(this.topic) ?? [];
    const lo = earliest.get(this.topic) ?? [];
    const hi = latest.get(this.topic) ?? [];
    for (const state of this.parts.values()) {
      const p = state.partition;
      const start = lo[p] ?? 0n;
      const end = hi[p] ?? start;
      const from =
        (c[p] ?? -1n) >= 0n ? c[p] : this.cfg.consumer.autoOffsetReset === 'earliest' ? start : end;
      state.position = from < start ? start : from > end ? end : from;
      // the broker's committed offset is the truth after a (re)join
      this.committed.set(p, c[p] ?? -1n);
    }
  }

  private async fetchOnce(): Promise<void> {
    const generation = this.generation;
    const metadata: ClusterMetadata = await this.consumer.metadata({ topics: [this.topic] });
    const topicMeta = metadata.topics.get(this.topic);
    if (!topicMeta) throw new Error(`topic ${this.topic} has no metadata`);
    const byLeader = new Map<number, PartitionState[]>();
    for (const state of this.parts.values()) {
      const leader = topicMeta.partitions[state.partition]?.leader ?? -1;
      if (leader < 0) continue;
      const list = byLeader.get(leader) ?? [];
      list.push(state);
      byLeader.set(leader, list);
    }
    if (byLeader.size === 0) throw new Error(`no leader for the partitions of ${this.topic}`);
    await Promise.all(
      [...byLeader].map(async ([node, states]) => {
        const response = await this.consumer.fetch({
          node,
          connectionPool: this.fetchPool,
          maxWaitTime: this.cfg.consumer.fetchMaxWaitMs,
          maxBytes: this.cfg.consumer.fetchMaxBytes,
          isolationLevel: READ_UNCOMMITTED,
          topics: [
            {
              topicId: topicMeta.id,
              partitions: states.map((s) => ({
                partition: s.partition,
                fetchOffset: s.position,
                partitionMaxBytes: this.cfg.consumer.partitionMaxBytes,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              })),
            },
          ],
        });
        if (generation !== this.generation || this.closed) return; // rebalanced meanwhile: refetch
        let added = 0;
        for (const t of response.responses) {
          for (const part of t.partitions) {
            const state = this.parts.get(part.partitionIndex);
            if (!state || !part.records) continue;
            for (const batch of part.records) {
              const last = batch.firstOffset + BigInt(batch.lastOffsetDelta);
              if ((batch.attributes & CONTROL_BATCH) === 0) {
                const appendTime = (batch.attributes & LOG_APPEND_TIME) !== 0;
                for (const rec of batch.records) {
                  const offset = batch.firstOffset + BigInt(rec.offsetDelta);
                  if (offset < state.position) continue; // a batch fetched from its start
                  const ts = appendTime ? batch.maxTimestamp : batch.firstTimestamp + rec.timestampDelta;
                  this.buffer.push({
                    partition: state.partition,
                    offset,
                    key: rec.key === null ? undefined : rec.key.toString('utf8'),
                    value: rec.value ?? Buffer.alloc(0),
                    timestamp: Number(ts),
                  });
                  added++;
                }
              }
              if (last + 1n > state.position) state.position = last + 1n;
            }
          }
        }
        if (added > 0) this.dataWaiters.wake();
      }),
    );
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
