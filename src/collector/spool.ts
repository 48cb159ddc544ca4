/**
 * The collector's write-ahead spool: a request is answered 200 only after its raw record is durable
 * here; a forwarder then moves records to the raw stream and forgets them only once the stream has
 * acknowledged them (DESIGN §4, spec kubernetes §3.2–3.3).
 *
 *     <dataDir>/spool/seg-*.log, LOCK   the records (streams/embedded/segment-log.ts)
 *     <dataDir>/spool/checkpoint        {"next": n}: every record with seq < n has been acknowledged
 *
 * Capacity is backpressure, never eviction: above `highWatermark` the spool reports it (readiness goes
 * false so the load balancer steers away), at `maxBytes` `append` rejects with `SpoolFullError` (the
 * route answers 503 and trackers retry). Forwarding is at least once: after a crash everything past the
 * checkpoint is sent again, and downstream dedupes on event id.
 *
 * @example
 *     const spool = await Spool.open({ dataDir: '/data', maxBytes: 8 * 2 ** 30 });
 *     spool.start(await engine.stream('raw'));
 *     await spool.append(collectorPayloadBytes); // now it is safe to answer 200
 *     // SIGTERM: after the grace period
 *     await spool.drain(Date.now() + 100_000);
 */
import { join } from 'node:path';
import { CheckpointFile } from '../streams/embedded/checkpoint.js';
import {
  LogFullError,
  type LogRecord,
  SegmentLog,
  type FsyncObserver,
  type SegmentLogOptions,
} from '../streams/embedded/segment-log.js';
import type { Stream } from '../streams/types.js';

export interface SpoolOptions {
  /** the collector's data directory; the spool is `<dataDir>/spool` */
  dataDir?: string;
  /** the spool directory itself (wins over `dataDir`) */
  dir?: string;
  /** hard cap on bytes on disk; default 1 GiB. Size it at 80–90 % of the volume. */
  maxBytes?: number;
  /** fraction of `maxBytes` above which `stats().highWatermark` is true; default 0.8 */
  highWatermark?: number;
  segmentBytes?: number;
  /** `fsync` (default) or `os` (dev only: a machine crash can lose acknowledged records) */
  durability?: 'fsync' | 'os';
  /** records per publish, default 500 */
  batchRecords?: number;
  /** payload bytes per publish, default 4 MiB */
  batchBytes?: number;
  /** publishes in flight at once, default 4 (1 keeps strict order across retries) */
  maxInFlight?: number;
  /** first retry delay, default 100 ms; doubles per consecutive failure */
  backoffMinMs?: number;
  /** retry delay ceiling, default 30 s */
  backoffMaxMs?: number;
  /** a publish that has not settled by then counts as failed and is retried; default 30 s */
  publishTimeoutMs?: number;
  /** how often forwarded segments are deleted, at most; default 1000 ms */
  retentionIntervalMs?: number;
  onFsync?: SegmentLogOptions['onFsync'];
}

export interface SpoolStats {
  /** bytes on disk (forwarded records linger until their segment is deleted) */
  bytes: number;
  segments: number;
  /** records not yet acknowledged by the target */
  records: number;
  /** age of the oldest record not yet acknowledged by the target; 0 when none */
  oldestAgeSeconds: number;
  /** appends are being refused for lack of space */
  full: boolean;
  /** above the high watermark: report not ready before the cap is hit */
  highWatermark: boolean;
  /** false once draining or closed */
  accepting: boolean;
  lastError?: string;
  appended: number;
  rejected: number;
  forwarded: number;
  publishErrors: number;
  fsyncs: number;
}

export interface DrainResult {
  /** every record reached the target */
  drained: boolean;
  /** records left in the spool (durable, sent on the next start) */
  remaining: number;
  /** records the target acknowledged during the drain */
  forwarded: number;
}

/**
 * What the collector needs of its write-ahead log. `Spool` forwards to any stream engine; `StreamSpool`
 * (stream-spool.ts) appends straight into the embedded raw stream's own log.
 */
export interface CollectorSpool {
  readonly dir: string;
  /** Make the records durable (all or none). Rejects with `SpoolFullError` or `SpoolClosedError`. */
  append(records: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /**
   * Where records to be appended are best allocated (exactly `size` bytes, uninitialised), when the
   * spool can take buffers from it without a copy.
   */
  readonly alloc?: (size: number) => Buffer;
  /** Call `fn` after each fdatasync (the last call wins): the metrics' source for group commits. */
  observeFsyncs(fn: FsyncObserver): void;
  stats(): SpoolStats;
  drain(deadlineMs: number): Promise<DrainResult>;
  close(): Promise<void>;
}

export class SpoolFullError extends Error {
  override readonly name = 'SpoolFullError';
  constructor(readonly maxBytes: number) {
    super(`spool is full (${maxBytes}-byte cap)`);
  }
}

export class SpoolClosedError extends Error {
  override readonly name = 'SpoolClosedError';
  constructor() {
    super('spool is draining or closed');
  }
}

interface Outgoing {
  start: number;
  end: number;
  records: LogRecord[];
  done: boolean;
}

const CHECKPOINT_INTERVAL_MS = 100;

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class Spool implements CollectorSpool {
  readonly dir: string;
  private readonly log: SegmentLog;
  private readonly checkpoint: CheckpointFile<{ next: number }>;
  private readonly o: Required<Omit<SpoolOptions, 'dataDir' | 'dir' | 'segmentBytes' | 'onFsync'>>;
  private acked: number;
  private readPos = 0;
  private inflight: Outgoing[] = [];
  private accepting = true;
  private closed = false;
  private pending = new Set<Promise<unknown>>();
  private fwd?: { target: Stream; abort: AbortController; loop: Promise<void> };
  /** one per sleeper, so the drain loop cannot swallow a wake-up meant for the forwarder */
  private readonly loopWake = new Wake();
  private readonly drainWake = new Wake();
  private failures = 0;
  private checkpointTimer?: NodeJS.Timeout;
  private lastRetention = 0;
  private retention?: Promise<void>;
  private retentionAgain = false;
  private retentionTimer?: NodeJS.Timeout;
  /** frame size of the last append refused for space; 0 once one succeeds */
  private refusedBytes = 0;
  private oldestCache?: { seq: number; ts: number };
  private lastError?: string;
  private counters = { appended: 0, rejected: 0, forwarded: 0, publishErrors: 0 };

  private constructor(
    dir: string,
    log: SegmentLog,
    checkpoint: CheckpointFile<{ next: number }>,
    acked: number,
    opts: SpoolOptions,
  ) {
    this.dir = dir;
    this.log = log;
    this.checkpoint = checkpoint;
    this.acked = acked;
    this.o = {
      maxBytes: opts.maxBytes ?? 2 ** 30,
      highWatermark: opts.highWatermark ?? 0.8,
      durability: opts.durability ?? 'fsync',
      batchRecords: opts.batchRecords ?? 500,
      batchBytes: opts.batchBytes ?? 4 * 1024 * 1024,
      maxInFlight: Math.max(1, opts.maxInFlight ?? 4),
      backoffMinMs: opts.backoffMinMs ?? 100,
      backoffMaxMs: opts.backoffMaxMs ?? 30_000,
      publishTimeoutMs: opts.publishTimeoutMs ?? 30_000,
      retentionIntervalMs: opts.retentionIntervalMs ?? 1000,
    };
  }

  static async open(opts: SpoolOptions): Promise<Spool> {
    const dir = opts.dir ?? (opts.dataDir !== undefined ? join(opts.dataDir, 'spool') : undefined);
    if (dir === undefined) throw new Error('Spool.open needs `dir` or `dataDir`');
    const log = await SegmentLog.open(dir, {
      maxBytes: opts.maxBytes ?? 2 ** 30,
      segmentBytes: opts.segmentBytes,
      durability: opts.durability,
      onFsync: opts.onFsync,
    });
    try {
      const checkpoint = new CheckpointFile<{ next: number }>(
        join(log.dir, 'checkpoint'),
        opts.durability !== 'os',
      );
      const stored = (await checkpoint.load())?.next;
      let acked = typeof stored === 'number' && Number.isInteger(stored) && stored >= 0 ? stored : 0;
      // a wiped log restarts numbering at 0; a checkpoint past its end would hide every new record
      acked = Math.min(Math.max(acked, log.firstSeq), log.nextSeq);
      const spool = new Spool(log.dir, log, checkpoint, acked, opts);
      await spool.refreshOldest();
      return spool;
    } catch (e) {
      await log.close();
      throw e;
    }
  }

  /** Make `records` durable. Reject with `SpoolFullError` at the cap, `SpoolClosedError` when draining. */
  append(records: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (!this.accepting) return Promise.reject(new SpoolClosedError());
    const list = records instanceof Uint8Array ? [records] : records;
    const p = this.log.append(list).then(
      () => {
        this.counters.appended += list.length;
        this.refusedBytes = 0;
        this.kick();
      },
      (e) => {
        if (e instanceof LogFullError) {
          this.counters.rejected++;
          this.refusedBytes = e.requested;
          throw new SpoolFullError(this.o.maxBytes);
        }
        this.lastError = errText(e);
        throw e;
      },
    );
    this.pending.add(p);
    const forget = () => this.pending.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Start forwarding to `target`, beginning with whatever it has not acknowledged yet. */
  start(target: Stream): void {
    if (this.closed) throw new SpoolClosedError();
    if (this.fwd) throw new Error('spool forwarder already started');
    const abort = new AbortController();
    const loop = this.forwardLoop(target, abort.signal).catch((e) => {
      this.lastError = `spool forwarder stopped: ${errText(e)}`;
    });
    this.fwd = { target, abort, loop };
  }

  /**
   * Shutdown: stop accepting, forward until the spool is empty or `deadlineMs` (ms since epoch)
   * passes, persist the checkpoint, release the directory. What is left stays durable for the next
   * start (or `drainOrphanedSpool`).
   */
  async drain(deadlineMs: number): Promise<DrainResult> {
    if (this.closed)
      return { drained: this.acked >= this.log.nextSeq, remaining: this.unforwarded(), forwarded: 0 };
    this.accepting = false;
    const before = this.counters.forwarded;
    await Promise.allSettled([...this.pending]);
    if (this.fwd) {
      while (this.acked < this.log.nextSeq && Date.now() < deadlineMs) {
        await this.drainWake.sleep(deadlineMs - Date.now());
      }
    }
    await this.shutdown();
    const remaining = this.unforwarded();
    return { drained: remaining === 0, remaining, forwarded: this.counters.forwarded - before };
  }

  /** Stop without draining (what is not forwarded stays for the next start). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.accepting = false;
    await Promise.allSettled([...this.pending]);
    await this.shutdown();
  }

  observeFsyncs(fn: FsyncObserver): void {
    this.log.onFsync = fn;
  }

  stats(): SpoolStats {
    const ls = this.log.stats();
    const used = ls.bytes + ls.queuedBytes;
    const records = this.unforwarded();
    let oldest: number | undefined;
    if (records > 0) {
      const first = this.inflight[0];
      if (first && first.start === this.acked) oldest = first.records[0].ts;
      else if (this.oldestCache?.seq === this.acked) oldest = this.oldestCache.ts;
      else {
        oldest = ls.oldestTimestamp; // older than or equal to the truth until the refresh lands
        void this.refreshOldest();
      }
    }
    return {
      bytes: ls.bytes,
      segments: ls.segments,
      records,
      oldestAgeSeconds: oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000),
      // full while an append like the last refused one would still be refused
      full: used + Math.max(this.refusedBytes, 1) > this.o.maxBytes,
      highWatermark: used >= this.o.maxBytes * this.o.highWatermark,
      accepting: this.accepting,
      lastError: this.lastError ?? ls.lastError?.message,
      ...this.counters,
      fsyncs: ls.fsyncs,
    };
  }

  // ---- forwarder ---------------------------------------------------------------------------------

  private unforwarded(): number {
    return Math.max(0, this.log.nextSeq - this.acked);
  }

  private kick(): void {
    this.loopWake.kick();
    this.drainWake.kick();
  }

  private async forwardLoop(target: Stream, signal: AbortSignal): Promise<void> {
    this.readPos = this.acked;
    while (!signal.aborted) {
      try {
        while (
          this.inflight.length < this.o.maxInFlight &&
          this.readPos < this.log.nextSeq &&
          !signal.aborted
        ) {
          const records = await this.log.read(this.readPos, this.o.batchRecords, this.o.batchBytes);
          if (records.length === 0) break;
          const b: Outgoing = {
            start: records[0].seq,
            end: records[records.length - 1].seq + 1,
            records,
            done: false,
          };
          this.readPos = b.end;
          this.inflight.push(b);
          void this.send(target, b, signal);
        }
      } catch (e) {
        this.lastError = `spool read: ${errText(e)}`;
        await this.loopWake.sleep(this.backoff(), true);
        continue;
      }
      if (signal.aborted) break;
      await this.loopWake.sleep(60_000, true);
    }
  }

  private backoff(): number {
    this.failures++;
    const base = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** Math.min(this.failures - 1, 30));
    return base / 2 + Math.random() * (base / 2);
  }

  private async send(target: Stream, b: Outgoing, signal: AbortSignal): Promise<void> {
    const out = b.records.map((r) => ({ value: r.payload }));
    while (!signal.aborted) {
      try {
        await withTimeout(target.publish(out), this.o.publishTimeoutMs);
        if (signal.aborted) return; // a late success after shutdown is simply sent again next time
        this.failures = 0;
        b.done = true;
        this.onSent();
        return;
      } catch (e) {
        if (signal.aborted) return;
        this.counters.publishErrors++;
        this.lastError = `publish to ${target.name}: ${errText(e)}`;
        const delay = this.backoff();
        await new Promise<void>((resolve) => {
          const t = setTimeout(finish, delay);
          t.unref();
          function finish() {
            clearTimeout(t);
            signal.removeEventListener('abort', finish);
            resolve();
          }
          signal.addEventListener('abort', finish, { once: true });
        });
      }
    }
  }

  private onSent(): void {
    let advanced = false;
    while (this.inflight.length > 0 && this.inflight[0].done) {
      const b = this.inflight.shift()!;
      this.counters.forwarded += b.end - b.start;
      this.acked = b.end;
      advanced = true;
    }
    if (advanced) {
      this.lastError = undefined;
      this.scheduleCheckpoint();
    }
    this.kick();
  }

  /**
   * The checkpoint only decides what is re-sent after a crash, so it is persisted at most every
   * CHECKPOINT_INTERVAL_MS instead of after every acknowledged batch: each save costs two fsyncs and a
   * rename, which under load was a steady share of the collector's CPU and disk. A crash re-sends at most
   * that interval's records (at least once; loaders dedupe). Drain and close persist the final position.
   */
  private scheduleCheckpoint(): void {
    if (this.checkpointTimer !== undefined || this.closed) return;
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      this.checkpoint.save({ next: this.acked }).then(
        () => this.maybeRetention(),
        (e) => {
          this.lastError = `spool checkpoint: ${errText(e)}`;
        },
      );
    }, CHECKPOINT_INTERVAL_MS);
    this.checkpointTimer.unref();
  }

  /**
   * Delete segments the target has acknowledged: at most once per interval (a timer catches up on the
   * last ack of a burst), at once when the spool is filling up.
   */
  private maybeRetention(force = false): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.retention) {
      this.retentionAgain = true;
      return this.retention;
    }
    const used = this.log.stats().bytes;
    const pressing = used >= this.o.maxBytes * this.o.highWatermark * 0.5;
    const wait = this.lastRetention + this.o.retentionIntervalMs - Date.now();
    if (!force && !pressing && wait > 0) {
      if (!this.retentionTimer) {
        this.retentionTimer = setTimeout(() => {
          this.retentionTimer = undefined;
          void this.maybeRetention();
        }, wait);
        this.retentionTimer.unref();
      }
      return Promise.resolve();
    }
    this.lastRetention = Date.now();
    const upTo = this.checkpoint.value?.next ?? 0;
    this.retention = this.log
      .truncateBefore(upTo, { rollActive: upTo >= this.log.nextSeq })
      .then(
        () => undefined,
        (e) => {
          this.lastError = `spool retention: ${errText(e)}`;
        },
      )
      .finally(() => {
        this.retention = undefined;
        if (this.retentionAgain) {
          this.retentionAgain = false;
          void this.maybeRetention();
        }
      });
    return this.retention;
  }

  private async refreshOldest(): Promise<void> {
    const seq = this.acked;
    if (seq >= this.log.nextSeq) return;
    try {
      const [r] = await this.log.read(seq, 1, 1);
      if (r && this.acked === seq) this.oldestCache = { seq: r.seq, ts: r.ts };
    } catch {
      // stats fall back to the log's oldest record
    }
  }

  private async shutdown(): Promise<void> {
    if (this.closed) return;
    if (this.fwd) {
      this.fwd.abort.abort();
      this.kick();
      await this.fwd.loop;
      this.fwd = undefined;
    }
    this.inflight = [];
    clearTimeout(this.retentionTimer);
    clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    try {
      await this.checkpoint.flush();
      if ((this.checkpoint.value?.next ?? -1) !== this.acked)
        await this.checkpoint.save({ next: this.acked });
      while (this.retention) await this.retention;
      this.retentionAgain = false;
      await this.maybeRetention(true);
    } catch (e) {
      this.lastError = `spool shutdown: ${errText(e)}`;
    }
    this.closed = true;
    await this.log.close();
  }
}

/** A level-triggered wake-up: a kick while nobody sleeps makes the next sleep return at once. */
class Wake {
  private kicked = false;
  private resolve?: () => void;

  kick(): void {
    this.kicked = true;
    this.resolve?.();
  }

  /** `unref`: this wait alone should not keep the process alive. */
  sleep(ms: number, unref = false): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => this.resolve?.(), Math.max(0, ms));
      if (unref) t.unref();
      this.resolve = () => {
        clearTimeout(t);
        this.resolve = undefined;
        this.kicked = false;
        resolve();
      };
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  if (!Number.isFinite(ms)) return p;
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`publish timed out after ${ms} ms`)), ms);
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/**
 * Forward what a removed pod left in `dir` (its spool directory) to `target`, until empty or
 * `deadlineMs` (ms since epoch). The dead owner's LOCK is taken over; a live owner makes this fail.
 */
export async function drainOrphanedSpool(
  dir: string,
  target: Stream,
  deadlineMs: number,
  opts: Omit<SpoolOptions, 'dir' | 'dataDir'> = {},
): Promise<DrainResult> {
  const spool = await Spool.open({ ...opts, dir });
  spool.start(target);
  return spool.drain(deadlineMs);
}
