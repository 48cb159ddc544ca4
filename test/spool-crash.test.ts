/**
 * kill -9 safety with real processes: a child appends (or publishes) as fast as it can and prints every
 * acknowledgement; the parent SIGKILLs it at random moments, restarts it, and finally proves that every
 * acknowledged record is still there. See test/fixtures/spool-crash-child.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SegmentLog } from '../src/streams/embedded/segment-log.js';
import { tempDirs } from './helpers/temp-dirs.js';

// resolved beside this file so it works from dist/ and from any other outDir
const CHILD = fileURLToPath(new URL('./fixtures/spool-crash-child.js', import.meta.url));
const KILLS = 5;

const tmp = tempDirs('furrow-crash-');

interface Run {
  lines: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Run the child; with `killAfterMs`, SIGKILL it that long after it reports OPEN. Only complete lines
 * count: a line cut by the kill was never fully claimed.
 */
function runChild(args: string[], killAfterMs?: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    const lines: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (killAfterMs !== undefined && line.startsWith('OPEN') && !timer) {
          timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        }
        nl = buf.indexOf('\n');
      }
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    // 'close' comes after the process is reaped and its pipes are drained
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      resolve({ lines, code, signal, stderr });
    });
  });
}

const randomDelay = () => 100 + Math.floor(Math.random() * 400);

function assertKilled(r: Run) {
  assert.equal(r.signal, 'SIGKILL', `child should have been killed, exited ${r.code}: ${r.stderr}`);
}

test('segment log: every acknowledged append survives kill -9, exactly once, at its seq', async (t) => {
  const dir = await tmp();
  const acked = new Map<string, number>();
  let injected = false;
  let sawCut = 0;
  for (let i = 0; i < KILLS; i++) {
    const r = await runChild(['log', dir, `r${i}`, '32'], randomDelay());
    assertKilled(r);
    const open = r.lines.find((l) => l.startsWith('OPEN'));
    assert.ok(open, r.stderr);
    if (injected) {
      sawCut = Number(open.split(' ')[1]);
      injected = false;
    }
    for (const l of r.lines) {
      if (!l.startsWith('A ')) continue;
      const [, seq, id] = l.split(' ');
      acked.set(id, Number(seq));
    }
    if (i === 1) {
      // simulate a torn write on top of whatever the kill left: half a frame header
      const segs = (await fsp.readdir(dir)).filter((f) => f.startsWith('seg-')).sort();
      await fsp.appendFile(
        join(dir, segs[segs.length - 1]),
        Buffer.from([0x10, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
      );
      injected = true;
    }
  }
  assert.ok(sawCut >= 13, `the reopen after the injected torn tail cut ${sawCut} bytes`);
  assert.ok(acked.size > 100, `only ${acked.size} acks in ${KILLS} runs`);
  t.diagnostic(
    `${acked.size} acknowledged appends over ${KILLS} kills; injected torn tail cut ${sawCut} bytes`,
  );

  const log = await SegmentLog.open(dir);
  try {
    const cut = log.openReport.truncatedBytes;
    const seen = new Map<string, number>();
    for (let from = log.firstSeq; from < log.nextSeq; ) {
      const recs = await log.read(from, 10_000);
      for (const r of recs) {
        const id = r.payload.toString();
        assert.equal(seen.has(id), false, `${id} appears twice`);
        seen.set(id, r.seq);
      }
      from = recs[recs.length - 1].seq + 1;
    }
    for (const [id, seq] of acked)
      assert.equal(seen.get(id), seq, `acknowledged ${id} (seq ${seq}) is missing or moved`);
    assert.ok(cut >= 0);
  } finally {
    await log.close();
  }
});

test('spool + forwarder: every acknowledged request reaches the stream across kill -9', async (t) => {
  const base = await tmp();
  const spoolDir = join(base, 'spool');
  const engineDir = join(base, 'engine');
  const acked = new Set<string>();
  for (let i = 0; i < KILLS; i++) {
    const r = await runChild(['spool', spoolDir, engineDir, `r${i}`, '32'], randomDelay());
    assertKilled(r);
    for (const l of r.lines) if (l.startsWith('A ')) acked.add(l.slice(2));
  }
  assert.ok(acked.size > 100, `only ${acked.size} acks`);
  const fin = await runChild(['spool-final', spoolDir, engineDir]);
  assert.equal(fin.code, 0, fin.stderr);
  assert.equal(fin.lines.at(-1), 'DONE true 0');
  const delivered = new Set(fin.lines.filter((l) => l.startsWith('R ')).map((l) => l.slice(2)));
  t.diagnostic(`${acked.size} acknowledged appends, ${delivered.size} distinct records in the stream`);
  const missing = [...acked].filter((id) => !delivered.has(id));
  assert.deepEqual(
    missing.slice(0, 10),
    [],
    `${missing.length} acknowledged records never reached the stream`,
  );
});

test('embedded engine: nothing published is lost and nothing committed is redelivered across kill -9', async (t) => {
  const dir = await tmp();
  const published = new Set<string>();
  const committed = new Map<string, number>(); // id → run in which its ack completed
  const deliveredIn = new Map<string, number[]>();
  const runs: Run[] = [];
  for (let i = 0; i < KILLS; i++) {
    const r = await runChild(['engine', dir, `r${i}`, '16'], randomDelay());
    assertKilled(r);
    runs.push(r);
  }
  const fin = await runChild(['engine-final', dir]);
  assert.equal(fin.code, 0, fin.stderr);
  assert.equal(fin.lines.at(-1), 'DONE');
  runs.push(fin);
  // The consumer acks one batch at a time, so when a run is killed at most its last delivered batch can
  // be in doubt: its checkpoint may have reached the disk just before the kill, before "K" was printed.
  const inDoubt = new Set<string>();
  runs.forEach((r, run) => {
    let lastDelivered: string[] = [];
    for (const l of r.lines) {
      if (l.startsWith('P ')) published.add(l.slice(2));
      else if (l.startsWith('C ')) {
        lastDelivered = l.slice(2).split(' ');
        for (const id of lastDelivered) deliveredIn.set(id, [...(deliveredIn.get(id) ?? []), run]);
      } else if (l.startsWith('K ')) {
        lastDelivered = [];
        for (const id of l.slice(2).split(' ')) if (!committed.has(id)) committed.set(id, run);
      }
    }
    for (const id of lastDelivered) inDoubt.add(id);
  });
  assert.ok(published.size > 100, `only ${published.size} publishes`);
  const redelivered = [...deliveredIn.values()].filter((runs) => runs.length > 1).length;
  t.diagnostic(
    `${published.size} published, ${committed.size} committed, ${redelivered} redelivered after a kill`,
  );
  const lost = [...published].filter((id) => !committed.has(id) && !inDoubt.has(id));
  assert.deepEqual(lost.slice(0, 10), [], `${lost.length} published records were never consumed`);
  for (const [id, run] of committed) {
    const later = (deliveredIn.get(id) ?? []).filter((r) => r > run);
    assert.deepEqual(later, [], `${id} was committed in run ${run} but delivered again in run ${later[0]}`);
  }
});
