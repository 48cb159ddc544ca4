/**
 * The collector's write-ahead log when the raw stream is the embedded engine's: requests are appended
 * straight into the raw stream's own segment log, so a record is written and fdatasynced once before
 * the 200, and the enrich consumer reads it from there. A separate spool in front of it would write and
 * sync every record twice on the same disk (spool, then the forwarder's copy into the stream) and add a
 * forwarder, a checkpoint and segment deletion; that cost about half of the collector's CPU per request
 * and its fsync latency. Other engines keep `Spool` (the broker may be down; the spool bridges it).
 *
 * The contract is the spool's: `append` resolves only once the records are durable (the log's group
 * commit), a torn tail is cut when the stream reopens after a crash, and capacity is back-pressure:
 * above `highWatermark` of `maxBytes` readiness goes false, at `maxBytes` `append` rejects with
 * `SpoolFullError` (503). The stream's retention deletes what every consumer group has committed, so
 * the bytes counted are those enrich has not yet consumed (plus the segment being written).
 *
 * @example
 *     const raw = await engine.stream('raw'); // an EmbeddedStream
 *     const spool = new StreamSpool(raw.log, { maxBytes: 2 ** 30 });
 *     await spool.append(collectorPayloadBytes); // in the raw stream, durable: answer 200
 */
import { encodeRecordWith } from '../streams/embedded/engine.js';
import { FRAME_HEADER_BYTES } from '../streams/embedded/frame.js';
import { type FsyncObserver, LogFullError, type SegmentLog } from '../streams/embedded/segment-log.js';
import { Slab } from './slab.js';
import {
  type CollectorSpool,
  type DrainResult,
  SpoolClosedError,
  SpoolFullError,
  type SpoolStats,
} from './spool.js';

export interface StreamSpoolOptions {
  /** refuse (503) once the stream's log holds this many bytes; default 1 GiB */
  maxBytes?: number;
  /** fraction of `maxBytes` above which `stats().highWatermark` is true; default 0.8 */
  highWatermark?: number;
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class StreamSpool implements CollectorSpool {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly highWatermark: number;
  private accepting = true;
  private inFlight = 0;
  private idle?: { promise: Promise<void>; resolve: () => void };
  /** frame size of the last append refused for space; 0 once one succeeds */
  private refusedBytes = 0;
  private lastError?: string;
  private counters = { appended: 0, rejected: 0 };
  /** the log keeps recent records in memory for its readers: their buffers come and go in order */
  private readonly slab = new Slab();
  /**
   * The last buffer from `alloc` and the same bytes with the flags byte in front. The collector appends
   * a record right after encoding it, so remembering one is enough (a WeakSet of every such buffer cost
   * an ephemeron entry per request for the GC to trace); any other buffer is copied.
   */
  private lastAlloc?: Uint8Array;
  private lastFramed?: Buffer;

  constructor(
    private readonly log: SegmentLog,
    opts: StreamSpoolOptions = {},
  ) {
    this.dir = log.dir;
    this.maxBytes = opts.maxBytes ?? 2 ** 30;
    this.highWatermark = opts.highWatermark ?? 0.8;
  }

  /**
   * Allocates one byte more and returns the buffer after it, with that byte set to the embedded stream
   * record's flags (no key): `append` then frames the record in place instead of copying it (the copy
   * was ~5 % of the collector's CPU per request).
   */
  readonly alloc = (size: number): Buffer => {
    const b = this.slab.alloc(size + 1);
    b[0] = 0;
    const v = b.subarray(1);
    this.lastAlloc = v;
    this.lastFramed = b;
    return v;
  };

  append(records: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (!this.accepting) return Promise.reject(new SpoolClosedError());
    const list = records instanceof Uint8Array ? [records] : records;
    const out: Uint8Array[] = new Array(list.length);
    let bytes = 0;
    for (let i = 0; i < list.length; i++) {
      // the embedded stream's record layout, without a key (the spool's forwarder never sent one)
      const v = list[i];
      if (v === this.lastAlloc) {
        out[i] = this.lastFramed!;
        // the slab is not held past this append
        this.lastAlloc = undefined;
        this.lastFramed = undefined;
      } else out[i] = encodeRecordWith({ value: v }, this.slab.alloc);
      bytes += FRAME_HEADER_BYTES + out[i].length;
    }
    if (this.log.usedBytes + bytes > this.maxBytes) {
      this.counters.rejected++;
      this.refusedBytes = bytes;
      return Promise.reject(new SpoolFullError(this.maxBytes));
    }
    this.inFlight++;
    return this.log.append(out).then(
      () => {
        this.counters.appended += list.length;
        this.refusedBytes = 0;
        this.settled();
      },
      (e) => {
        this.settled();
        if (e instanceof LogFullError) {
          this.counters.rejected++;
          this.refusedBytes = bytes;
          throw new SpoolFullError(this.maxBytes);
        }
        this.lastError = errText(e);
        throw e;
      },
    );
  }

  observeFsyncs(fn: FsyncObserver): void {
    this.log.onFsync = fn;
  }

  stats(): SpoolStats {
    const ls = this.log.stats();
    const used = ls.bytes + ls.queuedBytes;
    return {
      bytes: ls.bytes,
      segments: ls.segments,
      // nothing waits to be forwarded: an appended record is already in the stream
      records: 0,
      oldestAgeSeconds: 0,
      full: used + Math.max(this.refusedBytes, 1) > this.maxBytes,
      highWatermark: used >= this.maxBytes * this.highWatermark,
      accepting: this.accepting,
      lastError: this.lastError ?? ls.lastError?.message,
      appended: this.counters.appended,
      rejected: this.counters.rejected,
      forwarded: this.counters.appended,
      publishErrors: 0,
      fsyncs: ls.fsyncs,
    };
  }

  /** Stop accepting and wait for appends in flight; the log itself belongs to the stream (closed with it). */
  async drain(_deadlineMs: number): Promise<DrainResult> {
    await this.close();
    return { drained: true, remaining: 0, forwarded: 0 };
  }

  async close(): Promise<void> {
    this.accepting = false;
    if (this.inFlight === 0) return;
    if (this.idle === undefined) {
      let resolve = () => {};
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.idle = { promise, resolve };
    }
    await this.idle.promise;
  }

  private settled(): void {
    if (--this.inFlight === 0 && this.idle !== undefined) {
      const { resolve } = this.idle;
      this.idle = undefined;
      resolve();
    }
  }
}
