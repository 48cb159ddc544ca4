/**
 * An append-only, segmented, crash-safe log in one directory: the storage under the collector's
 * write-ahead spool and under every embedded stream.
 *
 * Layout: `seg-<firstSeq, 20 digits>.log` files holding frames (see `frame.ts`), plus a `LOCK` file
 * naming the owning pid and host. Sequence numbers are dense and start at 0; a segment's name is the
 * seq of its first frame, so even an empty segment remembers where numbering continues after retention
 * has deleted everything before it.
 *
 * Durability: `append` resolves only after its frames are written and (with `durability: 'fsync'`)
 * `fdatasync`ed. Appends arriving while a flush is in flight are queued and go out together as soon as it
 * returns (group commit), so the number of fdatasyncs follows the disk's latency, not the request rate,
 * and nothing waits on a timer. While the disk answers fast the fdatasync runs on the event loop itself
 * and a flush takes everything appended by the end of the loop turn (see INLINE_SYNC_MAX_MS); after a
 * slow one it runs in the thread pool. Readers only ever see records whose flush completed.
 *
 * Crash recovery on open: every segment is scanned and each frame's length, CRC and seq checked. A bad
 * frame in the last segment is a torn write (the process or machine died mid-flush, so nothing from
 * there on was acknowledged): the file is cut there and the cut is reported. A bad frame in any earlier
 * segment cannot come from a crash (a segment is only closed after it was fully synced), so it is
 * reported as corruption naming the file and offset, and the log refuses to open.
 *
 * @example
 *     const log = await SegmentLog.open('/data/spool', { maxBytes: 8 * 2 ** 30 });
 *     const { firstSeq } = await log.append([payload]); // durable from here on
 *     const records = await log.read(firstSeq, 100, 1 << 20);
 */
import { fdatasyncSync, writevSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeFrame, FRAME_HEADER_BYTES, prepareHeader, sealHeader } from './frame.js';

/** The subset of a `fs/promises` FileHandle the log uses; injectable to count syncs or inject faults. */
export interface LogFileHandle {
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
  /** the same write done synchronously, when the handle offers it (see `writeChunk`) */
  writevSync?(buffers: Uint8Array[], position: number): number;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  datasync(): Promise<void>;
  /** the same sync done on the calling thread, when the handle offers it (see `INLINE_SYNC_MAX_MS`) */
  datasyncSync?(): void;
  sync(): Promise<void>;
  truncate(len: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

export interface LogFs {
  open(path: string, flags: string): Promise<LogFileHandle>;
  readdir(path: string): Promise<string[]>;
  unlink(path: string): Promise<void>;
}

export const nodeLogFs: LogFs = {
  open: async (path, flags) => {
    const fh = await fsp.open(path, flags);
    // the FileHandle itself, plus the synchronous write on its descriptor
    const h = fh as unknown as LogFileHandle;
    h.writevSync = (buffers, position) => writevSync(fh.fd, buffers, position);
    h.datasyncSync = () => fdatasyncSync(fh.fd);
    return h;
  },
  readdir: (path) => fsp.readdir(path),
  unlink: (path) => fsp.unlink(path),
};

/** Called after each fdatasync with its duration and whether a slow disk had moved it to the thread pool. */
export type FsyncObserver = (seconds: number, pooled: boolean) => void;

export interface SegmentLogOptions {
  /** Roll to a new segment file once the current one would exceed this. Default 64 MiB. */
  segmentBytes?: number;
  /** `fsync` (default): fdatasync before acknowledging. `os`: leave it to the page cache (dev only). */
  durability?: 'fsync' | 'os';
  /** Hard cap on bytes on disk (plus queued); `append` rejects with `LogFullError` beyond it. */
  maxBytes?: number;
  /** Observe each fdatasync: its duration, and whether it ran in the thread pool (see INLINE_SYNC_MAX_MS). */
  onFsync?: FsyncObserver;
  /** Injected file system (tests); defaults to node:fs/promises. */
  fs?: LogFs;
}

export interface LogRecord {
  seq: number;
  /** append time, ms since epoch */
  ts: number;
  payload: Buffer;
}

export interface AppendResult {
  firstSeq: number;
  lastSeq: number;
}

export interface OpenReport {
  /** bytes cut from the end of the last segment (a torn write) */
  truncatedBytes: number;
  /** the file that was cut, if any */
  truncatedFile?: string;
  /** whole, CRC-valid frames found after the cut (non-zero means more than a torn write was lost) */
  discardedFrames: number;
  /** the previous owner's pid when a stale LOCK was taken over */
  staleLockPid?: number;
}

export interface SegmentLogStats {
  dir: string;
  /** bytes of durable frames on disk */
  bytes: number;
  segments: number;
  firstSeq: number;
  nextSeq: number;
  /** append time of the oldest record still on disk */
  oldestTimestamp?: number;
  /** bytes accepted by `append` and not yet flushed */
  queuedBytes: number;
  /** durable records held in memory for readers (see `SegmentLog.tail`) */
  cachedRecords: number;
  appends: number;
  flushes: number;
  fsyncs: number;
  /** fsyncs done in the thread pool because an earlier one was slow (see INLINE_SYNC_MAX_MS) */
  pooledFsyncs: number;
  errors: number;
  lastError?: { message: string; code?: string; at: number };
  open: OpenReport;
}

export class LogFullError extends Error {
  override readonly name = 'LogFullError';
  constructor(
    readonly maxBytes: number,
    readonly requested: number,
  ) {
    super(`log is full: ${requested} more bytes would exceed the ${maxBytes}-byte cap`);
  }
}

export class LogClosedError extends Error {
  override readonly name = 'LogClosedError';
  constructor(dir: string) {
    super(`log ${dir} is closed`);
  }
}

export class LogLockedError extends Error {
  override readonly name = 'LogLockedError';
  constructor(
    readonly dir: string,
    readonly pid: number | undefined,
  ) {
    super(`log ${dir} is locked by ${pid === undefined ? 'this process' : `live process ${pid}`}`);
  }
}

export class LogCorruptError extends Error {
  override readonly name = 'LogCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`corrupt log segment ${file} at offset ${offset}: ${reason}`);
  }
}

const SEGMENT_RE = /^seg-(\d{20})\.log$/;
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Sparse index granularity: a read starts at most this far before the record it wants. */
const INDEX_EVERY_BYTES = 16 * 1024;
const SCAN_CHUNK = 1024 * 1024;
/** upper bound of the records kept in memory for readers (see `SegmentLog.tail`) */
const TAIL_MAX_BYTES = 8 * 1024 * 1024;
/** libuv hands at most IOV_MAX buffers to one pwritev. */
const MAX_IOV = 1024;
/**
 * With `fsync` durability the active segment is extended with zeros up to this far ahead of its data,
 * in the same pwritev as a flush's frames. An fdatasync of frames written inside an already written
 * region has no file size or block allocation to commit, only data: on ext4 that measured ~25 % less CPU
 * and ~15 % less time per fdatasync than appending at the end of the file. The zeros are cut when the
 * segment rolls or the log closes, and a zero-only tail found on open is padding, not a torn write.
 * Padding is not counted against `maxBytes` (at most PAD_BYTES, and never past `segmentBytes`).
 */
const PAD_BYTES = 1024 * 1024;
let zeros: Buffer | undefined;
/**
 * A flush's fdatasync runs on the event loop itself while the disk answers within this long, and moves
 * to the thread pool after one that took longer (back again once a pooled one is fast). On the pixel
 * bench it cut the collector's CPU per request from 34.4 to 28.9 µs (BENCHMARKS.md): handing each flush to
 * a pool thread on the same busy core cost a futex wake, two context switches and the loop's wake-up, and
 * the pool thread waited for the core while the loop went idle waiting for it. What the loop gives up is
 * progress during the sync itself (~0.1–0.5 ms here), and at most one slow sync in a row when the disk
 * turns slow.
 */
const INLINE_SYNC_MAX_MS = 10;
/** Directories locked by this process: a second open in the same process must fail too. */
const lockedHere = new Set<string>();

export const segmentFileName = (firstSeq: number) => `seg-${String(firstSeq).padStart(20, '0')}.log`;

interface Segment {
  firstSeq: number;
  path: string;
  /** durable (written and synced) bytes; readers never look past it */
  size: number;
  count: number;
  firstTs?: number;
  /** sparse index: seq → byte offset of that frame */
  idxSeq: number[];
  idxPos: number[];
  lastIndexedPos: number;
  /** where the previous read stopped, so sequential readers skip the index walk */
  hintSeq: number;
  hintPos: number;
  /** file length: past `size` it holds zeros written ahead (see PAD_BYTES) */
  padded: number;
}

interface PendingAppend {
  headers: Buffer[];
  crcs: number[];
  payloads: Uint8Array[];
  bytes: number;
  ts: number;
  firstSeq?: number;
  lastSeq?: number;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

interface Waiter {
  seq: number;
  done(ok: boolean): void;
}

class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.catch(() => undefined);
    return p;
  }
}

function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e
    ? String((e as { code: unknown }).code)
    : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) === 'EPERM';
  }
}

export class SegmentLog {
  /**
   * The most recently flushed records, kept in memory: readers (the spool's forwarder, stream consumers)
   * almost always read what was just appended, and serving that from memory instead of re-opening and
   * re-reading the segment file was ~10 % of the collector's CPU in a profile. Only durable records enter.
   *
   * Records stay only until a reader asks for a later position, and none are kept before any reader
   * has read: a tail that outlives a couple of young-generation GCs gets its records (and the 256 KiB
   * slabs they are cut from) promoted, and on the collector that churn forced a full mark-compact about
   * every second, each blocking requests for tens of milliseconds (pixel p99 at half rate 55 → 5 ms,
   * BENCHMARKS.md).
   */
  private tail: LogRecord[] = [];
  private tailStart = 0;
  private tailBytes = 0;
  /** set by the first read: a log nobody reads in this process (a collector's spool) keeps no tail */
  private tailWanted = false;
  readonly dir: string;
  private readonly fs: LogFs;
  private readonly segmentBytes: number;
  private readonly fsync: boolean;
  private readonly maxBytes: number;
  /** settable after open too: the collector's metrics hook into the raw stream's log */
  onFsync?: FsyncObserver;
  private readonly mutex = new Mutex();
  private segments: Segment[] = [];
  private activeFh?: LogFileHandle;
  private next = 0;
  private diskBytes = 0;
  private queue: PendingAppend[] = [];
  private queuedBytes = 0;
  private flushing = false;
  /** see INLINE_SYNC_MAX_MS */
  private inlineSync = true;
  private flushIdle?: Promise<void>;
  private flushIdleResolve?: () => void;
  private needsRecovery = false;
  private closed = false;
  private waiters = new Set<Waiter>();
  private counters = { appends: 0, flushes: 0, fsyncs: 0, pooledFsyncs: 0, errors: 0 };
  private lastError?: { message: string; code?: string; at: number };
  private report: OpenReport = { truncatedBytes: 0, discardedFrames: 0 };

  private constructor(dir: string, opts: SegmentLogOptions) {
    this.dir = dir;
    this.fs = opts.fs ?? nodeLogFs;
    this.fsync = (opts.durability ?? 'fsync') === 'fsync';
    this.maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    // Retention frees whole segments only, so a segment must be small next to the cap or a log whose
    // records are nearly all consumed could still sit at the cap.
    const wanted = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.segmentBytes = Number.isFinite(this.maxBytes)
      ? Math.min(wanted, Math.max(4096, Math.floor(this.maxBytes / 4)))
      : wanted;
    this.onFsync = opts.onFsync;
  }

  /** Open (creating if needed) the log in `dir`: take the lock, scan, cut a torn tail. */
  static async open(dir: string, opts: SegmentLogOptions = {}): Promise<SegmentLog> {
    const abs = resolve(dir);
    await fsp.mkdir(abs, { recursive: true });
    const log = new SegmentLog(abs, opts);
    const stalePid = await acquireLock(abs);
    if (stalePid !== undefined) log.report.staleLockPid = stalePid;
    try {
      await log.load();
    } catch (e) {
      await releaseLock(abs);
      throw e;
    }
    return log;
  }

  get firstSeq(): number {
    return this.segments[0].firstSeq;
  }

  /** One past the last durable record: the seq the next appended record will get. */
  get nextSeq(): number {
    return this.next;
  }

  /** Bytes on disk plus bytes accepted and not yet flushed: what a cap on the log is checked against. */
  get usedBytes(): number {
    return this.diskBytes + this.queuedBytes;
  }

  get openReport(): OpenReport {
    return this.report;
  }

  /**
   * Append records atomically in order; resolves with their seqs once durable. The payload buffers are
   * written by reference: do not modify them until the promise settles.
   */
  append(payloads: readonly Uint8Array[], ts = Date.now()): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new LogClosedError(this.dir));
    if (payloads.length === 0) return Promise.resolve({ firstSeq: this.next, lastSeq: this.next - 1 });
    const headers: Buffer[] = [];
    const crcs: number[] = [];
    let bytes = 0;
    try {
      for (const p of payloads) {
        const { header, payloadCrc } = prepareHeader(p, ts);
        headers.push(header);
        crcs.push(payloadCrc);
        bytes += FRAME_HEADER_BYTES + p.length;
      }
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.diskBytes + this.queuedBytes + bytes > this.maxBytes) {
      return Promise.reject(new LogFullError(this.maxBytes, bytes));
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ headers, crcs, payloads: payloads.slice(), bytes, ts, resolve, reject });
      this.queuedBytes += bytes;
      this.counters.appends++;
      if (!this.flushing) void this.flushLoop().catch((e) => this.noteError(e));
    });
  }

  /**
   * Up to `maxRecords` durable records from `fromSeq` (or from the first retained record, if `fromSeq`
   * was already deleted), stopping once `maxBytes` of payload is reached but always returning at least
   * one record when one exists.
   */
  async read(fromSeq: number, maxRecords: number, maxBytes = Number.POSITIVE_INFINITY): Promise<LogRecord[]> {
    const out: LogRecord[] = [];
    let seq = Math.max(fromSeq, this.firstSeq);
    this.tailWanted = true;
    // what comes before the position asked for has been consumed: let it go while it is young
    if (seq > this.tailStart && this.tail.length > 0)
      this.dropTail(Math.min(seq - this.tailStart, this.tail.length));
    if (this.tail.length > 0 && seq >= this.tailStart && seq < this.next) {
      let bytes = 0;
      for (let i = seq - this.tailStart; i < this.tail.length && out.length < maxRecords; i++) {
        const r = this.tail[i];
        if (out.length > 0 && bytes + r.payload.length > maxBytes) break;
        out.push(r);
        bytes += r.payload.length;
      }
      return out;
    }
    let bytes = 0;
    while (out.length < maxRecords && seq < this.next && bytes < maxBytes) {
      const seg = this.segmentFor(seq);
      if (!seg) {
        seq = this.firstSeq;
        continue;
      }
      let got: LogRecord[];
      try {
        got = await this.readSegment(seg, seq, maxRecords - out.length, maxBytes - bytes, out.length === 0);
      } catch (e) {
        // retention deleted the segment between lookup and open: continue from what is left
        if (errCode(e) === 'ENOENT' && !this.segments.includes(seg)) {
          seq = Math.max(seq, this.firstSeq);
          continue;
        }
        throw e;
      }
      if (got.length === 0) break;
      for (const r of got) {
        out.push(r);
        bytes += r.payload.length;
      }
      seq = got[got.length - 1].seq + 1;
    }
    return out;
  }

  /**
   * Resolve true as soon as a durable record with seq ≥ `seq` exists, false after `timeoutMs`, on
   * `signal` abort or when the log closes. No polling: flushes wake the waiters.
   */
  waitFor(seq: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.next > seq) return Promise.resolve(true);
    if (this.closed || timeoutMs <= 0 || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const onAbort = () => w.done(false);
      const timer = setTimeout(() => w.done(false), timeoutMs);
      const w: Waiter = {
        seq,
        done: (ok) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.waiters.delete(w);
          resolve(ok);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(w);
    });
  }

  /**
   * Delete every segment whose records all have seq < `seq`. The segment being appended to is kept
   * unless `rollActive` is set: then, if it is non-empty and entirely below `seq`, a fresh segment is
   * started and the old one deleted too (the caller decides how often that file churn is worth it).
   * Resolves with the number of segments deleted.
   */
  truncateBefore(seq: number, opts: { rollActive?: boolean } = {}): Promise<number> {
    return this.mutex.run(async () => {
      if (this.closed) throw new LogClosedError(this.dir);
      const active = this.segments[this.segments.length - 1];
      try {
        if (opts.rollActive && active.count > 0 && this.next <= seq) await this.roll();
        const doomed: Segment[] = [];
        while (this.segments.length > 1 && this.segments[0].firstSeq + this.segments[0].count <= seq) {
          doomed.push(this.segments.shift()!);
        }
        for (const seg of doomed) {
          this.diskBytes -= seg.size;
          await this.fs.unlink(seg.path);
        }
        return doomed.length;
      } catch (e) {
        this.noteError(e);
        throw e;
      }
    });
  }

  stats(): SegmentLogStats {
    const oldest = this.segments.find((s) => s.count > 0)?.firstTs;
    return {
      dir: this.dir,
      bytes: this.diskBytes,
      segments: this.segments.length,
      firstSeq: this.firstSeq,
      nextSeq: this.next,
      oldestTimestamp: oldest,
      queuedBytes: this.queuedBytes,
      cachedRecords: this.tail.length,
      ...this.counters,
      lastError: this.lastError,
      open: this.report,
    };
  }

  /** Byte extent of each segment, oldest first (retention policies that keep N bytes use it). */
  segmentInfo(): { firstSeq: number; endSeq: number; bytes: number }[] {
    return this.segments.map((s) => ({ firstSeq: s.firstSeq, endSeq: s.firstSeq + s.count, bytes: s.size }));
  }

  /** Flush what was accepted, then release the files and the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushIdle) await this.flushIdle;
    await this.mutex.run(async () => {
      await this.trimPadding().catch(() => undefined); // else the next open cuts it
      await this.activeFh?.close().catch(() => undefined);
      this.activeFh = undefined;
    });
    for (const w of [...this.waiters]) w.done(false);
    await releaseLock(this.dir);
  }

  // ---- internals -------------------------------------------------------------------------------

  private noteError(e: unknown): void {
    this.counters.errors++;
    this.lastError = {
      message: e instanceof Error ? e.message : String(e),
      code: errCode(e),
      at: Date.now(),
    };
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    this.flushIdle = new Promise((r) => {
      this.flushIdleResolve = r;
    });
    // The next flush starts the moment the previous one returns; whatever queued meanwhile is one batch.
    while (this.queue.length > 0) {
      // A flush done on this thread (an inline sync, or no sync) lets nothing queue while it runs: let
      // this loop turn read what the sockets hold first, so one flush carries everything that is ready
      // (no timer, one turn at most). With `os` durability that spared a write per request.
      const fh = this.activeFh;
      if (fh?.writevSync && (!this.fsync || this.syncsInline(fh))) await nextTurn();
      await this.mutex.run(() => {
        const batch = this.queue;
        this.queue = [];
        return this.flushBatch(batch);
      });
    }
    this.flushing = false;
    this.flushIdleResolve?.();
    this.flushIdle = undefined;
  }

  private async flushBatch(batch: PendingAppend[]): Promise<void> {
    let failure: unknown;
    let seq = this.next;
    try {
      if (this.needsRecovery) await this.recover();
      let seg = this.segments[this.segments.length - 1];
      let bufs: Uint8Array[] = [];
      let chunkBytes = 0;
      let chunkStart = seq;
      const ts: number[] = [];
      for (const a of batch) {
        a.firstSeq = seq;
        for (let i = 0; i < a.payloads.length; i++) {
          const frameBytes = FRAME_HEADER_BYTES + a.payloads[i].length;
          if (seg.size + chunkBytes > 0 && seg.size + chunkBytes + frameBytes > this.segmentBytes) {
            await this.writeChunk(seg, bufs, chunkBytes, chunkStart, ts);
            await this.roll();
            seg = this.segments[this.segments.length - 1];
            bufs = [];
            chunkBytes = 0;
            chunkStart = seq;
            ts.length = 0;
          }
          sealHeader(a.headers[i], a.crcs[i], seq);
          bufs.push(a.headers[i], a.payloads[i]);
          ts.push(a.ts);
          chunkBytes += frameBytes;
          seq++;
        }
        a.lastSeq = seq - 1;
      }
      await this.writeChunk(seg, bufs, chunkBytes, chunkStart, ts);
    } catch (e) {
      failure = e;
      this.needsRecovery = true;
      this.noteError(e);
    }
    this.counters.flushes++;
    for (const a of batch) {
      this.queuedBytes -= a.bytes;
      // an append wholly inside a chunk that made it to disk before the failure is durable
      if (a.lastSeq !== undefined && a.lastSeq < this.next)
        a.resolve({ firstSeq: a.firstSeq!, lastSeq: a.lastSeq });
      else a.reject(failure);
    }
    this.wake();
  }

  /** Write frames at the segment's durable end, sync, then make them visible. */
  private async writeChunk(seg: Segment, bufs: Uint8Array[], bytes: number, firstSeq: number, ts: number[]) {
    if (bytes === 0) return;
    const fh = this.activeFh!;
    let pos = seg.size;
    let rest = bufs;
    let left = bytes;
    const dataEnd = seg.size + bytes;
    if (this.fsync && dataEnd > seg.padded) {
      const padTo = Math.min(this.segmentBytes, dataEnd + PAD_BYTES);
      if (padTo > dataEnd) {
        zeros ??= Buffer.alloc(PAD_BYTES);
        rest = [...bufs, zeros.subarray(0, padTo - dataEnd)];
        left += padTo - dataEnd;
      }
    }
    while (left > 0) {
      const slice = rest.length > MAX_IOV ? rest.slice(0, MAX_IOV) : rest;
      // A write is a copy into the page cache (~20 µs for a flush of 25 pixel requests). Done on this
      // thread it spares a thread-pool round trip per flush, whose wake-ups on a busy core cost more
      // than the copy. The fdatasync, which waits on the device, stays off-thread.
      const bytesWritten =
        fh.writevSync !== undefined ? fh.writevSync(slice, pos) : (await fh.writev(slice, pos)).bytesWritten;
      if (bytesWritten <= 0) throw new Error(`short write to ${seg.path}`);
      pos += bytesWritten;
      left -= bytesWritten;
      // drop fully written buffers; keep the unwritten tail of a partially written one
      let skip = bytesWritten;
      let i = 0;
      while (i < rest.length && skip >= rest[i].length) {
        skip -= rest[i].length;
        i++;
      }
      rest = rest.slice(i);
      if (skip > 0) rest[0] = rest[0].subarray(skip);
    }
    if (this.fsync) {
      const t0 = performance.now();
      const inline = this.syncsInline(fh);
      // moved off the loop by a slow disk (a handle without a synchronous sync always uses the pool)
      const pooled = !inline && fh.datasyncSync !== undefined;
      if (inline) fh.datasyncSync!();
      else await fh.datasync();
      const ms = performance.now() - t0;
      this.inlineSync = ms < INLINE_SYNC_MAX_MS;
      this.counters.fsyncs++;
      if (pooled) this.counters.pooledFsyncs++;
      this.onFsync?.(ms / 1000, pooled);
    }
    // visible only now: a reader must never see a record that a crash could still take back
    let framePos = seg.size;
    for (let i = 0; i < ts.length; i++) {
      const s = firstSeq + i;
      if (seg.count === 0) seg.firstTs = ts[i];
      if (seg.idxSeq.length === 0 || framePos - seg.lastIndexedPos >= INDEX_EVERY_BYTES) {
        seg.idxSeq.push(s);
        seg.idxPos.push(framePos);
        seg.lastIndexedPos = framePos;
      }
      seg.count++;
      framePos += FRAME_HEADER_BYTES + bufs[2 * i + 1].length;
    }
    seg.size += bytes;
    seg.padded = Math.max(seg.padded, pos);
    this.diskBytes += bytes;
    this.next = firstSeq + ts.length;
    this.remember(firstSeq, ts, bufs);
  }

  /** whether the next fdatasync runs on this thread (see INLINE_SYNC_MAX_MS) */
  private syncsInline(fh: LogFileHandle): boolean {
    return this.inlineSync && fh.datasyncSync !== undefined;
  }

  private dropTail(n: number): void {
    let freed = 0;
    for (let i = 0; i < n; i++) freed += this.tail[i].payload.length;
    this.tail = n === this.tail.length ? [] : this.tail.slice(n);
    this.tailStart += n;
    this.tailBytes -= freed;
  }

  private remember(firstSeq: number, ts: number[], bufs: Uint8Array[]): void {
    if (!this.tailWanted) return;
    if (this.tail.length === 0 || this.tailStart + this.tail.length !== firstSeq) {
      this.tail = [];
      this.tailStart = firstSeq;
      this.tailBytes = 0;
    }
    for (let i = 0; i < ts.length; i++) {
      const p = bufs[2 * i + 1];
      const payload = Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
      this.tail.push({ seq: firstSeq + i, ts: ts[i], payload });
      this.tailBytes += payload.length;
    }
    // Drop the oldest half at once when over budget, so trimming is amortised rather than per record.
    if (this.tailBytes > TAIL_MAX_BYTES) {
      let drop = 0;
      let freed = 0;
      while (drop < this.tail.length - 1 && this.tailBytes - freed > TAIL_MAX_BYTES / 2)
        freed += this.tail[drop++].payload.length;
      this.dropTail(drop);
    }
  }

  /** After a failed write the file may hold bytes past the durable end; cut them before writing again. */
  private async recover(): Promise<void> {
    const seg = this.segments[this.segments.length - 1];
    if (!this.activeFh) this.activeFh = await this.fs.open(seg.path, 'r+');
    await this.activeFh.truncate(seg.size);
    if (this.fsync) await this.activeFh.datasync();
    seg.padded = seg.size;
    this.needsRecovery = false;
  }

  /** Start a new segment at `next`. The old one is complete on disk before the new file exists. */
  private async roll(): Promise<void> {
    // the old segment ends at its last frame before the next one exists (a closed segment has no padding)
    await this.trimPadding();
    const seg = newSegment(this.dir, this.next);
    const fh = await this.fs.open(seg.path, 'wx');
    try {
      if (this.fsync) await this.syncDir();
    } catch (e) {
      await fh.close().catch(() => undefined);
      await this.fs.unlink(seg.path).catch(() => undefined);
      throw e;
    }
    await this.activeFh?.close().catch(() => undefined);
    this.activeFh = fh;
    this.segments.push(seg);
    this.needsRecovery = false;
  }

  /** Cut the active segment's zero padding (durably), so the file ends at its last frame. */
  private async trimPadding(): Promise<void> {
    const seg = this.segments[this.segments.length - 1];
    if (!seg || !this.activeFh || seg.padded <= seg.size) return;
    await this.activeFh.truncate(seg.size);
    if (this.fsync) await this.activeFh.datasync();
    seg.padded = seg.size;
  }

  private async syncDir(): Promise<void> {
    const d = await this.fs.open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) if (this.next > w.seq) w.done(true);
  }

  private segmentFor(seq: number): Segment | undefined {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid].firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    const s = segs[lo];
    return s && s.firstSeq <= seq && seq < s.firstSeq + s.count ? s : undefined;
  }

  private async readSegment(
    seg: Segment,
    seq: number,
    maxRecords: number,
    maxBytes: number,
    mustReturnOne: boolean,
  ): Promise<LogRecord[]> {
    let lo = 0;
    let hi = seg.idxSeq.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (seg.idxSeq[mid] <= seq) lo = mid;
      else hi = mid - 1;
    }
    let pos = seg.idxPos[lo];
    let at = seg.idxSeq[lo];
    if (seg.hintSeq > at && seg.hintSeq <= seq) {
      pos = seg.hintPos;
      at = seg.hintSeq;
    }
    const end = seg.size;
    const out: LogRecord[] = [];
    const fh = await this.fs.open(seg.path, 'r');
    try {
      let bytes = 0;
      let buf = Buffer.allocUnsafe(0);
      let bufPos = pos;
      let off = 0;
      while (pos < end && out.length < maxRecords) {
        let d = decodeFrame(buf, off);
        if (!d.ok && d.reason === 'short') {
          const want = Math.min(
            end - pos,
            Math.max(d.need ?? 0, 64 * 1024, Math.min(maxBytes, SCAN_CHUNK) + 4096),
          );
          buf = Buffer.allocUnsafe(want);
          const { bytesRead } = await readFully(fh, buf, pos);
          buf = buf.subarray(0, bytesRead);
          bufPos = pos;
          off = 0;
          d = decodeFrame(buf, 0);
        }
        if (!d.ok || d.seq !== at) {
          throw new LogCorruptError(seg.path, pos, d.ok ? `expected seq ${at}, found ${d.seq}` : d.reason);
        }
        if (d.seq >= seq) {
          if (out.length > 0 || !mustReturnOne) {
            if (bytes + d.payload.length > maxBytes) break;
          }
          // Copied out of the shared read buffer, so one retained record does not pin the whole chunk and
          // a record posted to a worker thread does not clone it (structured clone copies a view's whole
          // ArrayBuffer: handing out views made the enrich pool 3x slower in bench/streams).
          out.push({ seq: d.seq, ts: d.ts, payload: Buffer.from(d.payload) });
          bytes += d.payload.length;
        }
        off += d.size;
        pos = bufPos + off;
        at++;
      }
      seg.hintSeq = at;
      seg.hintPos = pos;
    } finally {
      await fh.close();
    }
    return out;
  }

  private async load(): Promise<void> {
    const names = (await this.fs.readdir(this.dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    let expected: number | undefined;
    for (let i = 0; i < names.length; i++) {
      const firstSeq = Number(SEGMENT_RE.exec(names[i])![1]);
      const path = join(this.dir, names[i]);
      if (expected !== undefined && firstSeq !== expected) {
        throw new LogCorruptError(
          path,
          0,
          `segment starts at seq ${firstSeq} but the previous one ends at ${expected}`,
        );
      }
      const seg = newSegment(this.dir, firstSeq);
      await this.scanSegment(seg, i === names.length - 1);
      this.segments.push(seg);
      this.diskBytes += seg.size;
      expected = seg.firstSeq + seg.count;
    }
    if (this.segments.length === 0) {
      const seg = newSegment(this.dir, 0);
      this.activeFh = await this.fs.open(seg.path, 'wx');
      await this.syncDir();
      this.segments.push(seg);
    } else {
      this.activeFh = await this.fs.open(this.segments[this.segments.length - 1].path, 'r+');
    }
    const last = this.segments[this.segments.length - 1];
    this.next = last.firstSeq + last.count;
  }

  private async scanSegment(seg: Segment, isLast: boolean): Promise<void> {
    const fh = await this.fs.open(seg.path, isLast ? 'r+' : 'r');
    try {
      const { size } = await fh.stat();
      let pos = 0;
      let expect = seg.firstSeq;
      let buf = Buffer.allocUnsafe(0);
      let bufPos = 0;
      let bad: string | undefined;
      while (pos < size) {
        let d = decodeFrame(buf, pos - bufPos);
        if (!d.ok && d.reason === 'short' && bufPos + buf.length < size) {
          const want = Math.min(size - pos, Math.max(SCAN_CHUNK, d.need ?? 0));
          buf = Buffer.allocUnsafe(want);
          buf = buf.subarray(0, (await readFully(fh, buf, pos)).bytesRead);
          bufPos = pos;
          d = decodeFrame(buf, 0);
        }
        if (!d.ok) {
          bad =
            d.reason === 'short' ? 'partial frame' : d.reason === 'crc' ? 'CRC mismatch' : `bad ${d.reason}`;
          break;
        }
        if (d.seq !== expect) {
          bad = `expected seq ${expect}, found ${d.seq}`;
          break;
        }
        if (seg.count === 0) seg.firstTs = d.ts;
        if (seg.idxSeq.length === 0 || pos - seg.lastIndexedPos >= INDEX_EVERY_BYTES) {
          seg.idxSeq.push(d.seq);
          seg.idxPos.push(pos);
          seg.lastIndexedPos = pos;
        }
        seg.count++;
        expect++;
        pos += d.size;
      }
      if (bad !== undefined) {
        const tail = Buffer.allocUnsafe(size - pos);
        await readFully(fh, tail, pos);
        // zeros only: padding written ahead of the frames (PAD_BYTES), not a torn write
        let end = tail.length;
        while (end > 0 && tail[end - 1] === 0) end--;
        if (end > 0) {
          if (!isLast) throw new LogCorruptError(seg.path, pos, bad);
          this.report.discardedFrames = countValidFrames(tail.subarray(0, end), expect);
          this.report.truncatedBytes = end;
          this.report.truncatedFile = seg.path;
        }
        // (an earlier segment is only read: its zeros are ignored, as a roll normally cuts them)
        if (isLast) {
          await fh.truncate(pos);
          await fh.datasync();
        }
      }
      seg.size = pos;
      seg.padded = pos;
    } finally {
      await fh.close();
    }
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function newSegment(dir: string, firstSeq: number): Segment {
  return {
    firstSeq,
    path: join(dir, segmentFileName(firstSeq)),
    size: 0,
    count: 0,
    idxSeq: [],
    idxPos: [],
    lastIndexedPos: 0,
    hintSeq: -1,
    hintPos: 0,
    padded: 0,
  };
}

async function readFully(fh: LogFileHandle, buf: Buffer, position: number): Promise<{ bytesRead: number }> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return { bytesRead: done };
}

/**
 * Whole frames that still check out after a cut: a torn write leaves none, so a non-zero count tells
 * the operator that something other than a crash (bit rot, a bad disk) cost acknowledged records.
 */
function countValidFrames(tail: Buffer, fromSeq: number): number {
  let found = 0;
  for (let off = 1; off + FRAME_HEADER_BYTES <= tail.length; off++) {
    const len = tail.readUInt32LE(off);
    if (off + FRAME_HEADER_BYTES + len > tail.length) continue;
    const seqLo = tail.readUInt32LE(off + 8);
    if (seqLo < fromSeq % 2 ** 32 || seqLo > (fromSeq % 2 ** 32) + tail.length) continue;
    const d = decodeFrame(tail, off);
    if (d.ok) {
      found++;
      off += d.size - 1;
    }
  }
  return found;
}

/** Returns the pid of a stale owner that was taken over, if any. */
async function acquireLock(dir: string): Promise<number | undefined> {
  if (lockedHere.has(dir)) throw new LogLockedError(dir, undefined);
  const path = join(dir, 'LOCK');
  const host = hostname();
  let stale: number | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await fsp.open(path, 'wx');
      try {
        await fh.writeFile(`${process.pid}\n${host}\n`);
      } finally {
        await fh.close();
      }
      lockedHere.add(dir);
      return stale;
    } catch (e) {
      if (errCode(e) !== 'EEXIST') throw e;
    }
    let text: string;
    try {
      text = await fsp.readFile(path, 'utf8');
    } catch (e) {
      if (errCode(e) === 'ENOENT') continue;
      throw e;
    }
    const [pidText, owner] = text.split('\n');
    const pid = Number(pidText);
    // Liveness can only be checked on this host. Another host's lock is treated as stale because the
    // volume is block storage mounted by one node at a time (a pod rescheduled elsewhere, a drained
    // orphan). Our own pid in the file is a previous incarnation (a container's pid 1 restarting).
    if (Number.isInteger(pid) && pid > 0 && owner === host && pid !== process.pid && pidAlive(pid)) {
      throw new LogLockedError(dir, pid);
    }
    stale = Number.isInteger(pid) && pid > 0 ? pid : undefined;
    await fsp.unlink(path).catch((e) => {
      if (errCode(e) !== 'ENOENT') throw e;
    });
  }
  throw new LogLockedError(dir, undefined);
}

async function releaseLock(dir: string): Promise<void> {
  lockedHere.delete(dir);
  await fsp.unlink(join(dir, 'LOCK')).catch(() => undefined);
}
