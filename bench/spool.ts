/**
 * bench/spool: durable appends per second through the segment log's group commit, for 1, 50 and 200
 * concurrent appenders of 1 KB records, against the floor measured in the same run on the same disk:
 * a synchronous `writeSync` + `fdatasyncSync` loop (one record per fdatasync).
 *
 *     npx tsc -p . && node dist/bench/spool.js [--seconds 1] [--dir /path/on/the/disk/to/test]
 *
 * The ratio that matters is appends/s ÷ baseline fdatasyncs/s: group commit should keep 1 appender near
 * 1× (one flush per append, plus the event loop's overhead) and push many appenders well past it,
 * because each fdatasync then carries many records.
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Spool } from '../src/collector/spool.js';
import { SegmentLog } from '../src/streams/embedded/segment-log.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const SECONDS = Number(values.seconds);
const RECORD = Buffer.alloc(1024, 'x');

interface Result {
  name: string;
  appends: number;
  fsyncs: number;
  seconds: number;
}

function baseline(dir: string): Result {
  const fd = openSync(join(dir, 'baseline.log'), 'w');
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < end) {
    writeSync(fd, RECORD);
    fdatasyncSync(fd);
    n++;
  }
  const seconds = (performance.now() - t0) / 1000;
  closeSync(fd);
  return { name: 'baseline writeSync+fdatasyncSync', appends: n, fsyncs: n, seconds };
}

async function logRun(dir: string, concurrency: number): Promise<Result> {
  const log = await SegmentLog.open(join(dir, `log-${concurrency}`));
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await log.append([RECORD]);
      n++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const { fsyncs } = log.stats();
  await log.close();
  return { name: `segment log, ${concurrency} appenders`, appends: n, fsyncs, seconds };
}

async function spoolRun(dir: string, concurrency: number): Promise<Result> {
  const spool = await Spool.open({ dir: join(dir, `spool-${concurrency}`) });
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  let n = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await spool.append(RECORD);
      n++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const { fsyncs } = spool.stats();
  await spool.close();
  return { name: `Spool.append, ${concurrency} appenders`, appends: n, fsyncs, seconds };
}

const dir = mkdtempSync(join(values.dir, 'furrow-bench-spool-'));
try {
  // the baseline runs first and last so drift in a shared disk's latency shows up instead of skewing ratios
  const before = baseline(dir);
  const results = [before];
  for (const c of [1, 50, 200]) results.push(await logRun(dir, c));
  results.push(await spoolRun(dir, 200));
  const afterwards = baseline(dir);
  results.push({ ...afterwards, name: `${afterwards.name} (again)` });
  const baseRate = (before.appends + afterwards.appends) / (before.seconds + afterwards.seconds);
  console.log(`node ${process.version}, 1 KB records, ${SECONDS} s per run, dir ${dir}`);
  console.log('| run | appends/s | fdatasync/s | records per fdatasync | appends/s ÷ mean baseline |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of results) {
    const rate = r.appends / r.seconds;
    const fs = r.fsyncs / r.seconds;
    console.log(
      `| ${r.name} | ${Math.round(rate)} | ${Math.round(fs)} | ${(r.appends / Math.max(1, r.fsyncs)).toFixed(1)} | ${(rate / baseRate).toFixed(2)}× |`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
