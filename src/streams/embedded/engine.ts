/**
 * The embedded stream engine: streams as segment logs under one data directory, for `furrow up` and
 * tests. No server, same contract as Kafka or NATS (`../types.ts`).
 *
 *     <dir>/streams/<name>/seg-*.log, LOCK     the records (see segment-log.ts)
 *     <dir>/streams/<name>/groups/<group>.json  {"position": n}: the group's next unconsumed seq
 *
 * A stored record is `flags u8 | [keyLen u16 LE | key UTF-8] | value`, where flags bit 0 says a key is
 * present (so an empty key and no key stay distinct).
 *
 * Consumer groups: all subscriptions of one group in this process share one read cursor (they compete
 * for batches). A batch's position is committed when it and every batch delivered before it are acked,
 * so a restart redelivers from the first unacknowledged record (at least once). The committed position
 * is written to the group's checkpoint file at most every `checkpointIntervalMs` (default 200 ms) rather
 * than on every ack: each write is a temp file, two fsyncs and a rename, ~3 % of `furrow up`'s main
 * thread when done per ack. A crash can then lose the last interval's commits, which only redelivers
 * those records (the loaders dedupe on event_id); retention deletes segments only below positions that
 * are durable, so nothing unconsumed is ever deleted. `checkpointIntervalMs: 0` makes `ack` resolve only
 * once its position is durable (nothing acked is ever redelivered). A group is created on
 * its first subscription, starting at the oldest retained record, and from then on holds back
 * retention: segments are deleted only below the lowest committed position of every group the stream
 * has ever had (and, optionally, only while `retainBytes` would still be left for groups that join
 * later). A stream with no groups keeps everything.
 *
 * @example
 *     const engine = new EmbeddedStreamEngine({ dir: './data' });
 *     const raw = await engine.stream('raw');
 *     await raw.publish([{ value: bytes }]);
 *     const sub = raw.subscribe('enrich');
 *     const batch = await sub.next(500, 1000);
 *     // … process, make outputs durable …
 *     await batch.ack();
 */
import * as fsp from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Batch, InRecord, OutRecord, Stream, StreamEngine, Subscription } from '../types.js';
import { CheckpointFile } from './checkpoint.js';
import { type SegmentLog as Log, SegmentLog, type SegmentLogStats } from './segment-log.js';

export interface EmbeddedEngineOptions {
  /** data directory; streams live in `<dir>/streams/<name>/` */
  dir: string;
  /** `fsync` (default) or `os` (no fsync; dev only) for records and group positions */
  durability?: 'fsync' | 'os';
  /** segment file size, default 64 MiB */
  segmentBytes?: number;
  /** cap per stream; `publish` rejects with `LogFullError` beyond it */
  maxBytesPerStream?: number;
  /** keep at least this many bytes per stream after every group has consumed them (default 0) */
  retainBytes?: number;
  /** retention runs at most this often per stream (default 1000 ms) */
  retentionIntervalMs?: number;
  /** payload bytes per delivered batch, default 4 MiB (a batch always holds at least one record) */
  maxBatchBytes?: number;
  /**
   * Write consumer positions at most this often (default 200 ms); 0 writes before `ack` resolves. A
   * crash loses at most this interval's commits: those records are delivered again.
   */
  checkpointIntervalMs?: number;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

function checkName(kind: string, name: string): void {
  if (!NAME_RE.test(name)) {
    throw new Error(`invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, '.', '_' or '-'`);
  }
}

export function encodeRecord(r: OutRecord): Uint8Array {
  return encodeRecordWith(r, Buffer.allocUnsafe);
}

/** `encodeRecord` into a buffer from `alloc(size)`, which must return exactly `size` bytes. */
export function encodeRecordWith(r: OutRecord, alloc: (size: number) => Buffer): Uint8Array {
  if (r.key === undefined) {
    const out = alloc(1 + r.value.length);
    out[0] = 0;
    out.set(r.value, 1);
    return out;
  }
  const keyLen = Buffer.byteLength(r.key);
  if (keyLen > 0xffff) throw new RangeError(`record key of ${keyLen} bytes exceeds 65535`);
  const out = alloc(3 + keyLen + r.value.length);
  out[0] = 1;
  out.writeUInt16LE(keyLen, 1);
  out.write(r.key, 3, 'utf8');
  out.set(r.value, 3 + keyLen);
  return out;
}

export function decodeRecord(payload: Buffer, timestamp: number): InRecord {
  if (payload.length < 1) throw new Error('empty stream record');
  if ((payload[0] & 1) === 0) return { value: payload.subarray(1), timestamp };
  const keyLen = payload.readUInt16LE(1);
  return {
    key: payload.toString('utf8', 3, 3 + keyLen),
    value: payload.subarray(3 + keyLen),
    timestamp,
  };
}

interface Delivery {
  start: number;
  end: number;
  acked: boolean;
  /** dropped from the in-order list when its group's last subscription closed */
  dropped: boolean;
  ackPromise?: Promise<void>;
}

class Group {
  committed = 0;
  cursor = 0;
  outstanding: Delivery[] = [];
  subscriptions = 0;
  /** a deferred checkpoint write is scheduled (checkpointIntervalMs > 0) */
  checkpointTimer?: NodeJS.Timeout;
  private nextLock: Promise<unknown> = Promise.resolve();
  readonly ready: Promise<void>;

  constructor(
    readonly name: string,
    readonly checkpoint: CheckpointFile<{ position: number }>,
    init: (g: Group) => Promise<void>,
  ) {
    this.ready = init(this);
    // awaited by next()/lag(); without a handler here a failed init before the first next() would be an
    // unhandled rejection, which ends the process
    this.ready.catch(() => undefined);
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.nextLock.then(fn);
    this.nextLock = p.catch(() => undefined);
    return p;
  }
}

export class EmbeddedStream implements Stream {
  private readonly groups = new Map<string, Group>();
  private readonly subs = new Set<EmbeddedSubscription>();
  private retentionTimer?: NodeJS.Timeout;
  private lastRetention = 0;
  private retentionRunning?: Promise<void>;
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly dir: string,
    readonly log: Log,
    private readonly opts: EmbeddedEngineOptions,
  ) {}

  static async open(name: string, dir: string, opts: EmbeddedEngineOptions): Promise<EmbeddedStream> {
    const log = await SegmentLog.open(dir, {
      durability: opts.durability,
      segmentBytes: opts.segmentBytes,
      maxBytes: opts.maxBytesPerStream,
    });
    const stream = new EmbeddedStream(name, dir, log, opts);
    try {
      await fsp.mkdir(join(dir, 'groups'), { recursive: true });
      for (const f of await fsp.readdir(join(dir, 'groups'))) {
        const m = /^(.+)\.json$/.exec(f);
        if (m && NAME_RE.test(m[1])) {
          const g = stream.group(m[1]);
          await g.ready;
        }
      }
    } catch (e) {
      await log.close();
      throw e;
    }
    return stream;
  }

  async publish(records: readonly OutRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.log.append(records.map(encodeRecord));
  }

  subscribe(group: string): Subscription {
    checkName('consumer group', group);
    if (this.closed) throw new Error(`stream ${this.name} is closed`);
    const g = this.group(group);
    g.subscriptions++;
    const sub = new EmbeddedSubscription(this, g);
    this.subs.add(sub);
    return sub;
  }

  async lag(group: string): Promise<number> {
    checkName('consumer group', group);
    const g = this.groups.get(group);
    if (!g) return this.log.nextSeq - this.log.firstSeq;
    await g.ready;
    return Math.max(0, this.log.nextSeq - Math.max(g.committed, this.log.firstSeq));
  }

  /** Committed position (next seq to deliver after a restart) per known group. */
  positions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, g] of this.groups) out[name] = g.committed;
    return out;
  }

  stats(): SegmentLogStats {
    return this.log.stats();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retentionTimer);
    await Promise.all([...this.subs].map((s) => s.close()));
    for (const g of this.groups.values()) clearTimeout(g.checkpointTimer);
    await Promise.all([...this.groups.values()].map((g) => this.writeCheckpoint(g).catch(() => undefined)));
    await Promise.all([...this.groups.values()].map((g) => g.checkpoint.flush()));
    await this.retentionRunning;
    await this.log.close();
  }

  // ---- used by subscriptions ---------------------------------------------------------------------

  get isClosed(): boolean {
    return this.closed;
  }

  get batchBytes(): number {
    return this.opts.maxBatchBytes ?? 4 * 1024 * 1024;
  }

  detach(sub: EmbeddedSubscription, g: Group): void {
    this.subs.delete(sub);
    g.subscriptions--;
    if (g.subscriptions === 0) {
      // whatever was delivered but never acked goes out again to the group's next subscriber
      for (const d of g.outstanding) d.dropped = true;
      g.outstanding = [];
      g.cursor = g.committed;
    }
  }

  /**
   * With `checkpointIntervalMs: 0`, resolves once the batch's end is durably committed, or at once when
   * an earlier batch is still unacked (nothing can be committed yet; a restart redelivers both).
   * Otherwise resolves at once and the position is written within the interval.
   */
  ack(g: Group, d: Delivery): Promise<void> {
    if (d.ackPromise) return d.ackPromise;
    if (!d.acked) {
      d.acked = true;
      if (d.dropped) {
        if (d.start <= g.committed) g.committed = Math.max(g.committed, d.end);
      } else {
        while (g.outstanding.length > 0 && g.outstanding[0].acked) {
          g.committed = Math.max(g.committed, g.outstanding.shift()!.end);
        }
      }
      if (g.cursor < g.committed) g.cursor = g.committed;
    }
    const durable = g.checkpoint.value?.position ?? -1;
    if (g.committed < d.end || durable >= d.end) return Promise.resolve();
    if (this.checkpointIntervalMs > 0) {
      this.scheduleCheckpoint(g);
      return Promise.resolve();
    }
    const p = g.checkpoint.save({ position: g.committed }).then(() => this.scheduleRetention());
    d.ackPromise = p;
    // a failed checkpoint write must not be remembered as success: a retried ack writes again
    p.catch(() => {
      d.ackPromise = undefined;
    });
    return p;
  }

  // ---- internals ----------------------------------------------------------------------------------

  private get checkpointIntervalMs(): number {
    return this.opts.checkpointIntervalMs ?? 200;
  }

  private scheduleCheckpoint(g: Group): void {
    if (this.closed || g.checkpointTimer !== undefined) return;
    g.checkpointTimer = setTimeout(() => {
      g.checkpointTimer = undefined;
      // a failed write is retried at the next interval; until then retention keeps the older position
      this.writeCheckpoint(g).catch(() => this.scheduleCheckpoint(g));
    }, this.checkpointIntervalMs);
    g.checkpointTimer.unref();
  }

  /** Make the group's committed position durable, if it is not already. */
  private writeCheckpoint(g: Group): Promise<void> {
    const position = g.committed;
    if ((g.checkpoint.value?.position ?? -1) >= position) return Promise.resolve();
    return g.checkpoint.save({ position }).then(() => this.scheduleRetention());
  }

  private group(name: string): Group {
    let g = this.groups.get(name);
    if (!g) {
      const ckpt = new CheckpointFile<{ position: number }>(
        join(this.dir, 'groups', `${name}.json`),
        (this.opts.durability ?? 'fsync') === 'fsync',
      );
      g = new Group(name, ckpt, async (group) => {
        const stored = await ckpt.load();
        let pos = stored?.position;
        if (typeof pos !== 'number' || !Number.isInteger(pos) || pos < 0) {
          pos = this.log.firstSeq;
          // persisted now so this group holds back retention from its very first subscription
          await ckpt.save({ position: pos });
        }
        // a log that was wiped restarts numbering; resume at its end rather than wait for seqs to catch up
        if (pos > this.log.nextSeq) pos = this.log.nextSeq;
        group.committed = pos;
        group.cursor = pos;
      });
      this.groups.set(name, g);
    }
    return g;
  }

  private scheduleRetention(): void {
    if (this.closed || this.retentionTimer) return;
    const interval = this.opts.retentionIntervalMs ?? 1000;
    const delay = Math.max(0, this.lastRetention + interval - Date.now());
    this.retentionTimer = setTimeout(() => {
      this.retentionTimer = undefined;
      this.lastRetention = Date.now();
      this.retentionRunning = this.runRetention()
        .then(
          () => undefined,
          () => undefined, // a group whose checkpoint cannot be read blocks retention; next() reports it
        )
        .finally(() => {
          this.retentionRunning = undefined;
        });
    }, delay);
    this.retentionTimer.unref();
  }

  /** Delete segments every group has consumed, keeping `retainBytes` for late joiners. */
  async runRetention(): Promise<number> {
    if (this.closed || this.groups.size === 0) return 0;
    await Promise.all([...this.groups.values()].map((g) => g.ready));
    // commits not yet written would otherwise hold segments back until the next interval; a failed
    // write leaves the durable position (all that `min` below trusts) where it was
    await Promise.all([...this.groups.values()].map((g) => this.writeCheckpoint(g).catch(() => undefined)));
    let min = Number.POSITIVE_INFINITY;
    for (const g of this.groups.values()) min = Math.min(min, g.checkpoint.value?.position ?? g.committed);
    const keep = this.opts.retainBytes ?? 0;
    const segs = this.log.segmentInfo();
    let total = segs.reduce((n, s) => n + s.bytes, 0);
    let boundary = -1;
    for (let i = 0; i < segs.length - 1; i++) {
      if (segs[i].endSeq > min || total - segs[i].bytes < keep) break;
      total -= segs[i].bytes;
      boundary = segs[i].endSeq;
    }
    if (boundary < 0) return 0;
    try {
      return await this.log.truncateBefore(boundary);
    } catch {
      return 0; // surfaced in the log's stats; the next ack retries
    }
  }
}

class EmbeddedSubscription implements Subscription {
  private readonly abort = new AbortController();
  private closed = false;

  constructor(
    private readonly stream: EmbeddedStream,
    private readonly g: Group,
  ) {}

  async next(maxRecords: number, maxWaitMs: number): Promise<Batch> {
    await this.g.ready;
    return this.g.exclusive(async () => {
      const log = this.stream.log;
      if (this.closed || this.stream.isClosed) return emptyBatch;
      if (this.g.cursor < log.firstSeq) this.g.cursor = log.firstSeq;
      if (log.nextSeq <= this.g.cursor) {
        const got = await log.waitFor(this.g.cursor, maxWaitMs, this.abort.signal);
        if (!got || this.closed) return emptyBatch;
      }
      const recs = await log.read(this.g.cursor, Math.max(1, maxRecords), this.stream.batchBytes);
      if (recs.length === 0) return emptyBatch;
      const d: Delivery = {
        start: recs[0].seq,
        end: recs[recs.length - 1].seq + 1,
        acked: false,
        dropped: false,
      };
      this.g.cursor = d.end;
      this.g.outstanding.push(d);
      const records = recs.map((r) => decodeRecord(r.payload, r.ts));
      return { records, ack: () => this.stream.ack(this.g, d) };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    // The last subscription resets the group's cursor: let its own (now aborted) next() finish first so
    // that delivery is counted. With others still open nothing resets, and their waits need not end.
    if (this.g.subscriptions <= 1) await this.g.exclusive(async () => undefined);
    this.stream.detach(this, this.g);
  }
}

const emptyBatch: Batch = { records: [], ack: () => Promise.resolve() };

export class EmbeddedStreamEngine implements StreamEngine {
  readonly kind = 'embedded';
  readonly dir: string;
  private readonly opts: EmbeddedEngineOptions;
  private readonly streams = new Map<string, Promise<EmbeddedStream>>();
  private closed = false;

  constructor(opts: EmbeddedEngineOptions | string) {
    this.opts = typeof opts === 'string' ? { dir: opts } : opts;
    this.dir = resolve(this.opts.dir);
  }

  stream(name: string): Promise<EmbeddedStream> {
    if (this.closed) return Promise.reject(new Error('embedded stream engine is closed'));
    try {
      checkName('stream', name);
    } catch (e) {
      return Promise.reject(e);
    }
    let s = this.streams.get(name);
    if (!s) {
      s = EmbeddedStream.open(name, join(this.dir, 'streams', name), this.opts);
      this.streams.set(name, s);
      s.catch(() => this.streams.delete(name));
    }
    return s;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = await Promise.allSettled(this.streams.values());
    for (const r of all) if (r.status === 'fulfilled') await r.value.close();
    this.streams.clear();
  }
}
