import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDirs } from '../../../test/helpers/temp-dirs.js';
import { crc32, crc32Fallback, decodeFrame, encodeFrame, FRAME_HEADER_BYTES } from './frame.js';
import {
  LogCorruptError,
  type LogFileHandle,
  type LogFs,
  LogFullError,
  LogLockedError,
  nodeLogFs,
  SegmentLog,
  segmentFileName,
} from './segment-log.js';

const tmp = tempDirs('furrow-seglog-');

const enc = (s: string) => Buffer.from(s);
const texts = (recs: { payload: Buffer }[]) => recs.map((r) => r.payload.toString());

async function segFiles(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((f) => f.startsWith('seg-')).sort();
}

test('frame: round trip, CRC covers payload, seq and ts', () => {
  const f = encodeFrame(2 ** 40 + 7, 1_700_000_000_123, enc('hello'));
  assert.equal(f.length, FRAME_HEADER_BYTES + 5);
  const d = decodeFrame(f, 0);
  assert.ok(d.ok);
  assert.equal(d.seq, 2 ** 40 + 7);
  assert.equal(d.ts, 1_700_000_000_123);
  assert.equal(d.payload.toString(), 'hello');
  for (const at of [4, 9, 17, 26]) {
    const bad = Buffer.from(f);
    bad[at] ^= 0x01;
    const r = decodeFrame(bad, 0);
    assert.equal(r.ok, false, `flipping byte ${at} must be detected`);
  }
  const short = decodeFrame(f.subarray(0, f.length - 1), 0);
  assert.deepEqual(short, { ok: false, reason: 'short', need: f.length });
  assert.equal(decodeFrame(encodeFrame(0, 0, new Uint8Array(0)), 0).ok, true);
});

test('frame: the table CRC matches the native one', () => {
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff));
  assert.equal(crc32Fallback(data), crc32(data));
  assert.equal(crc32Fallback(data.subarray(500), crc32Fallback(data.subarray(0, 500))), crc32(data));
  assert.equal(crc32(enc('123456789')), 0xcbf43926); // the CRC-32/IEEE check value
});

test('append, read, reopen: seqs are dense, records survive', async () => {
  const dir = await tmp();
  let log = await SegmentLog.open(dir);
  assert.deepEqual(await log.append([enc('a'), enc('b')]), { firstSeq: 0, lastSeq: 1 });
  assert.deepEqual(await log.append([enc('c')]), { firstSeq: 2, lastSeq: 2 });
  assert.deepEqual(texts(await log.read(0, 10)), ['a', 'b', 'c']);
  assert.deepEqual(texts(await log.read(1, 1)), ['b']);
  await log.close();
  log = await SegmentLog.open(dir);
  assert.equal(log.nextSeq, 3);
  assert.equal(log.openReport.truncatedBytes, 0);
  const recs = await log.read(0, 10);
  assert.deepEqual(
    recs.map((r) => r.seq),
    [0, 1, 2],
  );
  assert.ok(recs.every((r) => Math.abs(r.ts - Date.now()) < 60_000));
  assert.deepEqual(await log.append([enc('d')]), { firstSeq: 3, lastSeq: 3 });
  const st = log.stats();
  assert.equal(st.nextSeq, 4);
  assert.equal(st.firstSeq, 0);
  assert.equal(st.bytes, 4 * FRAME_HEADER_BYTES + 4);
  assert.equal(st.segments, 1);
  assert.ok(st.oldestTimestamp !== undefined && st.oldestTimestamp <= Date.now());
  await log.close();
});

test('records are cached for readers only once one reads, and only until read past', async () => {
  const log = await SegmentLog.open(await tmp());
  await log.append([enc('a'), enc('b'), enc('c')]);
  assert.equal(log.stats().cachedRecords, 0, 'a log nobody has read keeps nothing in memory');
  assert.deepEqual(texts(await log.read(0, 10)), ['a', 'b', 'c']);
  await log.append([enc('d'), enc('e')]);
  assert.equal(log.stats().cachedRecords, 2);
  assert.deepEqual(texts(await log.read(4, 10)), ['e']);
  assert.equal(log.stats().cachedRecords, 1, 'what lies before the position asked for is let go');
  // earlier records still come from the file
  assert.deepEqual(texts(await log.read(1, 10)), ['b', 'c', 'd', 'e']);
  await log.close();
});

test('group commit: concurrent appends share fdatasyncs', async () => {
  const dir = await tmp();
  let datasyncs = 0;
  const counting: LogFs = {
    ...nodeLogFs,
    open: async (p, flags) => {
      const fh = await nodeLogFs.open(p, flags);
      return wrap(fh, {
        datasync: () => {
          datasyncs++;
          return fh.datasync();
        },
      });
    },
  };
  const log = await SegmentLog.open(dir, { fs: counting });
  const N = 500;
  const results = await Promise.all(Array.from({ length: N }, (_, i) => log.append([enc(`r${i}`)])));
  const seqs = results.map((r) => r.firstSeq).sort((a, b) => a - b);
  assert.deepEqual(
    seqs,
    Array.from({ length: N }, (_, i) => i),
  );
  const st = log.stats();
  assert.equal(st.fsyncs, datasyncs, 'the exposed counter matches the syscalls seen');
  assert.ok(datasyncs < N / 5, `${datasyncs} fdatasyncs for ${N} concurrent appends`);
  assert.ok(st.flushes < N / 5);
  // each append's record is where its seq says
  const all = await log.read(0, N);
  for (let i = 0; i < N; i++) assert.equal(all[results[i].firstSeq].payload.toString(), `r${i}`);
  await log.close();
});

test('fdatasync runs on the event loop while the disk is fast, in the thread pool after a slow one', async () => {
  const dir = await tmp();
  const kinds: string[] = [];
  let slowNext = false;
  const observed: LogFs = {
    ...nodeLogFs,
    open: async (p, flags) => {
      const fh = await nodeLogFs.open(p, flags);
      return wrap(fh, {
        writevSync: fh.writevSync,
        datasync: () => {
          kinds.push('pool');
          return fh.datasync();
        },
        datasyncSync: () => {
          kinds.push('inline');
          fh.datasyncSync!();
          // a disk that stalls: 15 ms, longer than an inline sync may take
          if (slowNext) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15);
          slowNext = false;
        },
      });
    },
  };
  const flagged: boolean[] = [];
  const log = await SegmentLog.open(dir, { fs: observed, onFsync: (_s, pooled) => flagged.push(pooled) });
  kinds.length = 0;
  flagged.length = 0;
  // appends made in one turn of the loop share one inline flush
  await Promise.all([log.append([enc('a')]), log.append([enc('b')]), log.append([enc('c')])]);
  assert.deepEqual(kinds, ['inline']);
  slowNext = true;
  await log.append([enc('d')]);
  await log.append([enc('e')]);
  await log.append([enc('f')]);
  assert.deepEqual(kinds, ['inline', 'inline', 'pool', 'inline'], 'one pooled sync after the slow one');
  assert.equal(log.stats().fsyncs, 4);
  assert.equal(log.stats().pooledFsyncs, 1);
  assert.deepEqual(flagged, [false, false, true, false], 'the observer is told which sync was pooled');
  assert.deepEqual(texts(await log.read(0, 10)), ['a', 'b', 'c', 'd', 'e', 'f']);
  await log.close();
});

test('durability os: no fdatasync at all', async () => {
  const dir = await tmp();
  const log = await SegmentLog.open(dir, { durability: 'os' });
  await Promise.all(Array.from({ length: 20 }, (_, i) => log.append([enc(`r${i}`)])));
  assert.equal(log.stats().fsyncs, 0);
  assert.equal((await log.read(0, 100)).length, 20);
  await log.close();
});

test('segments roll at the configured size and reads cross them', async () => {
  const dir = await tmp();
  const log = await SegmentLog.open(dir, { segmentBytes: 1000 });
  const payload = Buffer.alloc(100, 'x');
  for (let i = 0; i < 30; i++) await log.append([Buffer.concat([enc(`${i}:`), payload])]);
  const files = await segFiles(dir);
  assert.ok(files.length >= 3, `${files.length} segments`);
  assert.equal(files[0], segmentFileName(0));
  for (const f of files) assert.ok((await fsp.stat(join(dir, f))).size <= 1000);
  const recs = await log.read(0, 100);
  assert.deepEqual(
    recs.map((r) => r.seq),
    Array.from({ length: 30 }, (_, i) => i),
  );
  // maxBytes stops early but always returns one record
  assert.equal((await log.read(5, 100, 150)).length, 1);
  assert.equal((await log.read(5, 100, 250)).length, 2);
  assert.equal((await log.read(5, 100, 1)).length, 1);
  assert.equal((await log.read(29, 100)).length, 1);
  assert.equal((await log.read(30, 100)).length, 0);
  // a frame larger than a segment gets one of its own
  const big = Buffer.alloc(5000, 'b');
  const { firstSeq } = await log.append([big]);
  assert.equal((await log.read(firstSeq, 1))[0].payload.length, 5000);
  await log.close();
  const again = await SegmentLog.open(dir, { segmentBytes: 1000 });
  assert.equal(again.nextSeq, 31);
  assert.equal((await again.read(0, 100)).length, 31);
  await again.close();
});

test('reads at random positions in a large segment use the sparse index', async () => {
  const dir = await tmp();
  const log = await SegmentLog.open(dir, { durability: 'os' });
  const batch = Array.from({ length: 5000 }, (_, i) => enc(`record-${i}-${'y'.repeat(i % 50)}`));
  await log.append(batch);
  for (const seq of [0, 1, 777, 2500, 4999, 1234, 10]) {
    const [r] = await log.read(seq, 1);
    assert.equal(r.seq, seq);
    assert.equal(r.payload.toString(), batch[seq].toString());
  }
  await log.close();
});

async function torn(mutate: (file: string, size: number) => Promise<void>) {
  const dir = await tmp();
  const log = await SegmentLog.open(dir);
  for (let i = 0; i < 10; i++) await log.append([enc(`record ${i}`)]);
  await log.close();
  const file = join(dir, segmentFileName(0));
  const size = (await fsp.stat(file)).size;
  await mutate(file, size);
  const reopened = await SegmentLog.open(dir);
  return { dir, log: reopened, file, size };
}

test('torn tail: garbage after the last frame is cut', async () => {
  const { log, file, size } = await torn((f) => fsp.appendFile(f, Buffer.from([1, 2, 3, 4, 5, 6, 7])));
  assert.equal(log.openReport.truncatedBytes, 7);
  assert.equal(log.openReport.truncatedFile, file);
  assert.equal((await fsp.stat(file)).size, size);
  assert.equal(log.nextSeq, 10);
  assert.deepEqual(
    texts(await log.read(0, 100)),
    Array.from({ length: 10 }, (_, i) => `record ${i}`),
  );
  assert.equal((await log.append([enc('next')])).firstSeq, 10);
  await log.close();
});

test('torn tail: half a frame is cut', async () => {
  const half = encodeFrame(10, Date.now(), enc('the eleventh record')).subarray(0, 30);
  const { log } = await torn((f) => fsp.appendFile(f, half));
  assert.equal(log.openReport.truncatedBytes, 30);
  assert.equal(log.nextSeq, 10);
  assert.equal((await log.read(0, 100)).length, 10);
  await log.close();
});

test('torn tail: a flipped byte in the last frame cuts that frame only', async () => {
  const lastFrame = FRAME_HEADER_BYTES + 'record 9'.length;
  const { log, dir } = await torn(async (f, size) => {
    const fh = await fsp.open(f, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, size - 3);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, size - 3);
    await fh.close();
  });
  assert.equal(log.openReport.truncatedBytes, lastFrame);
  assert.equal(log.openReport.discardedFrames, 0);
  assert.equal(log.nextSeq, 9);
  assert.deepEqual(
    texts(await log.read(0, 100)),
    Array.from({ length: 9 }, (_, i) => `record ${i}`),
  );
  await log.close();
  assert.equal((await segFiles(dir)).length, 1);
});

test('a bad frame in an earlier segment is an error naming the file and offset', async () => {
  const dir = await tmp();
  const log = await SegmentLog.open(dir, { segmentBytes: 200 });
  for (let i = 0; i < 20; i++) await log.append([enc(`record number ${i}`)]);
  await log.close();
  const files = await segFiles(dir);
  assert.ok(files.length >= 3);
  const victim = join(dir, files[1]);
  const frame = FRAME_HEADER_BYTES + 'record number 1'.length;
  const fh = await fsp.open(victim, 'r+');
  await fh.write(Buffer.from([0xaa]), 0, 1, frame + FRAME_HEADER_BYTES + 2); // payload of its 2nd frame
  await fh.close();
  await assert.rejects(SegmentLog.open(dir, { segmentBytes: 200 }), (e: unknown) => {
    assert.ok(e instanceof LogCorruptError);
    assert.equal(e.file, victim);
    assert.equal(e.offset, frame);
    assert.match(e.message, new RegExp(`${files[1]} at offset ${frame}`));
    return true;
  });
  // the failed open must not leave the directory locked
  await fsp.rm(victim);
  await assert.rejects(SegmentLog.open(dir, { segmentBytes: 200 }), /previous one ends/);
});

test('lock: a second open is refused, a live foreign pid is refused, a dead one is taken over', async () => {
  const dir = await tmp();
  const log = await SegmentLog.open(dir);
  await assert.rejects(SegmentLog.open(dir), LogLockedError);
  await log.close();

  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    await fsp.writeFile(join(dir, 'LOCK'), `${sleeper.pid}\n${(await import('node:os')).hostname()}\n`);
    await assert.rejects(
      SegmentLog.open(dir),
      (e: unknown) => e instanceof LogLockedError && e.pid === sleeper.pid,
    );
  } finally {
    sleeper.kill('SIGKILL');
  }
  const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
  await fsp.writeFile(join(dir, 'LOCK'), `${dead}\n${(await import('node:os')).hostname()}\n`);
  const taken = await SegmentLog.open(dir);
  assert.equal(taken.openReport.staleLockPid, dead);
  assert.equal((await fsp.readFile(join(dir, 'LOCK'), 'utf8')).split('\n')[0], String(process.pid));
  await taken.close();
  await assert.rejects(fsp.stat(join(dir, 'LOCK')), { code: 'ENOENT' });
});

test('retention: truncateBefore deletes only whole segments below the seq', async () => {
  const dir = await tmp();
  const log = await SegmentLog.open(dir, { segmentBytes: 300 });
  for (let i = 0; i < 40; i++) await log.append([enc(`record-${String(i).padStart(3, '0')}`)]);
  const before = log.segmentInfo();
  assert.ok(before.length >= 4);
  const cut = before[2].firstSeq + 1; // inside the third segment
  assert.equal(await log.truncateBefore(cut), 2);
  assert.equal(log.firstSeq, before[2].firstSeq);
  assert.equal((await segFiles(dir))[0], segmentFileName(before[2].firstSeq));
  assert.equal(
    log.stats().bytes,
    before.slice(2).reduce((n, s) => n + s.bytes, 0),
  );
  // a read below the first retained record starts at it
  assert.equal((await log.read(0, 1))[0].seq, before[2].firstSeq);
  // the segment being written survives unless asked to roll
  assert.equal(await log.truncateBefore(1000), before.length - 3);
  assert.equal(log.stats().segments, 1);
  assert.equal(await log.truncateBefore(1000, { rollActive: true }), 1);
  assert.equal(log.stats().bytes, 0);
  assert.equal(log.stats().oldestTimestamp, undefined);
  assert.deepEqual(await segFiles(dir), [segmentFileName(40)]);
  await log.close();
  const again = await SegmentLog.open(dir);
  assert.equal(again.nextSeq, 40, 'numbering continues after everything was deleted');
  assert.equal((await again.append([enc('x')])).firstSeq, 40);
  await again.close();
});

test('LogFullError at the cap, recovery after truncation', async () => {
  const dir = await tmp();
  const log = await SegmentLog.open(dir, { maxBytes: 20_000 });
  const rec = Buffer.alloc(1000 - FRAME_HEADER_BYTES, 'z');
  let accepted = 0;
  let full: unknown;
  for (let i = 0; i < 30; i++) {
    try {
      await log.append([rec]);
      accepted++;
    } catch (e) {
      full = e;
      break;
    }
  }
  assert.ok(full instanceof LogFullError);
  assert.equal(accepted, 20);
  // concurrent appends count against the cap while still queued
  assert.ok(log.stats().bytes <= 20_000);
  await assert.rejects(log.append([rec]), LogFullError);
  assert.ok((await log.truncateBefore(10)) > 0);
  await log.append([rec]);
  await log.close();
});

test('a disk error rejects the append, shows in stats, and the log recovers', async () => {
  const dir = await tmp();
  let failNext = 0;
  const flaky: LogFs = {
    ...nodeLogFs,
    open: async (p, flags) => {
      const fh = await nodeLogFs.open(p, flags);
      return wrap(fh, {
        writev: async (bufs, pos) => {
          if (failNext > 0) {
            failNext--;
            // half the bytes reach the file, as a real ENOSPC mid-write can leave them
            await fh.writev([Buffer.concat(bufs).subarray(0, 10)], pos);
            throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          }
          return fh.writev(bufs, pos);
        },
      });
    },
  };
  const log = await SegmentLog.open(dir, { fs: flaky });
  await log.append([enc('one')]);
  failNext = 1;
  await assert.rejects(log.append([enc('lost')]), { code: 'ENOSPC' });
  assert.equal(log.stats().lastError?.code, 'ENOSPC');
  assert.equal(log.stats().errors, 1);
  assert.deepEqual(await log.append([enc('two')]), { firstSeq: 1, lastSeq: 1 });
  assert.deepEqual(texts(await log.read(0, 10)), ['one', 'two']);
  await log.close();
  const again = await SegmentLog.open(dir);
  assert.equal(again.openReport.truncatedBytes, 0, 'the partial write was cut before the next one');
  assert.deepEqual(texts(await again.read(0, 10)), ['one', 'two']);
  await again.close();
});

test('waitFor wakes on a durable append and times out otherwise', async () => {
  const dir = await tmp();
  const log = await SegmentLog.open(dir);
  assert.equal(await log.waitFor(0, 20), false);
  const waiting = log.waitFor(0, 5000);
  const t0 = Date.now();
  await log.append([enc('x')]);
  assert.equal(await waiting, true);
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(await log.waitFor(0, 0), true);
  const ac = new AbortController();
  const aborted = log.waitFor(5, 5000, ac.signal);
  ac.abort();
  assert.equal(await aborted, false);
  const closing = log.waitFor(5, 5000);
  await log.close();
  assert.equal(await closing, false);
  await assert.rejects(log.append([enc('y')]), /closed/);
});

/** A FileHandle with some methods replaced. */
function wrap(fh: LogFileHandle, over: Partial<LogFileHandle>): LogFileHandle {
  return {
    writev: (b, p) => fh.writev(b, p),
    read: (b, o, l, p) => fh.read(b, o, l, p),
    datasync: () => fh.datasync(),
    sync: () => fh.sync(),
    truncate: (n) => fh.truncate(n),
    stat: () => fh.stat(),
    close: () => fh.close(),
    ...over,
  };
}

test('zero padding ahead of the frames: cut on roll and close, not a torn write after a crash', async () => {
  const dir = await tmp();
  const log = await SegmentLog.open(dir, { segmentBytes: 64 * 1024 });
  for (let i = 0; i < 20; i++) await log.append([enc(`r${i}`)]);
  const active = join(dir, segmentFileName(0));
  const dataBytes = log.stats().bytes;
  assert.ok((await fsp.stat(active)).size > dataBytes, 'the active segment is padded with zeros');

  // what a kill -9 leaves: the padded file, no close
  const crashed = await tmp();
  await fsp.copyFile(active, join(crashed, segmentFileName(0)));
  const reopened = await SegmentLog.open(crashed);
  assert.equal(reopened.openReport.truncatedBytes, 0, 'padding is not reported as a torn write');
  assert.equal(reopened.nextSeq, 20);
  await reopened.append([enc('after')]);
  assert.deepEqual(
    (await reopened.read(0, 100)).map((r) => r.payload.toString()),
    [...Array.from({ length: 20 }, (_, i) => `r${i}`), 'after'],
  );
  await reopened.close();

  // rolling cuts the old segment at its last frame; closing cuts the active one
  const big = Buffer.alloc(10_000, 7);
  for (let i = 0; i < 10; i++) await log.append([big]);
  const infos = log.segmentInfo();
  assert.ok(infos.length > 1, 'rolled');
  for (const s of infos.slice(0, -1)) {
    assert.equal((await fsp.stat(join(dir, segmentFileName(s.firstSeq)))).size, s.bytes);
  }
  await log.close();
  const last = infos[infos.length - 1];
  assert.equal((await fsp.stat(join(dir, segmentFileName(last.firstSeq)))).size, last.bytes);
  const again = await SegmentLog.open(dir);
  assert.equal(again.openReport.truncatedBytes, 0);
  assert.equal(again.nextSeq, 30);
  await again.close();
});
