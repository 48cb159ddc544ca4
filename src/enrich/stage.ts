/**
 * The enrich stage: raw stream → worker threads → enriched and bad streams. A batch's input position is
 * acknowledged only after both output publishes are durable, so a crash anywhere replays the batch
 * (at least once; loaders dedupe on event_id).
 */
import type { Logger } from '../runtime/logger.js';
import { badRowType, type Metrics } from '../runtime/metrics.js';
import type { Batch, Stream, Subscription } from '../streams/types.js';
import type { WorkerPool } from './worker/pool.js';
import type { TaskResult } from './worker/protocol.js';

export interface EnrichStageOptions {
  raw: Stream;
  enriched: Stream;
  bad: Stream;
  pool: WorkerPool;
  group?: string;
  batchSize?: number;
  metrics?: Metrics;
  log?: Logger;
  /** sees every worker result after it is durable (the Micro API's feed in `furrow up`) */
  /** each task's result with the records it enriched (the Micro store keeps events by reference to them) */
  onResult?: (r: TaskResult, records: readonly Uint8Array[]) => void;
  /** raw records per worker task at most (default 25); a batch is spread over the pool in such tasks */
  taskRecords?: number;
}

/**
 * Small tasks, not one chunk per worker: a task's outputs live until its reply is posted, and 500-record
 * chunks (5k tracker events, ~15 MB of lines and traces) outlived the young generation in the workers and
 * were serialized in one huge message. Measured with the real pool and 10-event tracker POSTs, process CPU
 * per event, batches of 1000 records: 287 µs in chunks of 500, 156 µs in tasks of 25 (10: 167).
 */
const DEFAULT_TASK_RECORDS = 25;

const encoder = new TextEncoder();

export class EnrichStage {
  private sub: Subscription | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private idle = true;
  /** failed attempts of the batch in hand, 0 once a batch succeeds */
  private failures = 0;
  /** resolves on stop(): a retry back-off (up to 10 s) does not hold the shutdown */
  private stopped: Promise<void> = new Promise(() => {});
  private signalStopped: () => void = () => {};

  constructor(private readonly opts: EnrichStageOptions) {}

  /** How many times in a row the current batch has failed (a registry that does not answer, say). */
  get consecutiveFailures(): number {
    return this.failures;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    this.stopped = new Promise((r) => {
      this.signalStopped = r;
    });
    this.sub = this.opts.raw.subscribe(this.opts.group ?? 'enrich');
    this.loop = this.run(this.sub);
  }

  /** True when the last poll found nothing to do. */
  get isIdle(): boolean {
    return this.idle;
  }

  private async run(sub: Subscription): Promise<void> {
    const max = this.opts.batchSize ?? 100;
    while (this.running) {
      let batch: Batch;
      try {
        batch = await sub.next(max, 200);
      } catch (e) {
        this.opts.log?.error({ err: e }, 'enrich: reading the raw stream failed');
        await sleep(500);
        continue;
      }
      if (batch.records.length === 0) {
        this.idle = true;
        continue;
      }
      this.idle = false;
      await this.processWithRetry(batch);
    }
  }

  private async processWithRetry(batch: Batch): Promise<void> {
    let delay = 100;
    for (;;) {
      try {
        await this.process(batch);
        const failures = this.failures;
        if (failures > 0) this.opts.log?.info({ failures }, 'enrich: batch done after retries');
        this.failures = 0;
        return;
      } catch (e) {
        const failures = ++this.failures;
        // The first failure with its stack; while the same cause persists (a registry that does not
        // answer), one short line per retry with the next delay rather than a stack each time.
        if (failures === 1) this.opts.log?.error({ err: e }, 'enrich: batch failed, retrying');
        else
          this.opts.log?.warn(
            { failures, retryInMs: delay, error: e instanceof Error ? e.message : String(e) },
            'enrich: batch still failing, retrying',
          );
        // Stopping leaves the batch unacknowledged: it is enriched again after the restart.
        if (!this.running) return;
        await Promise.race([sleep(delay), this.stopped]);
        if (!this.running) return;
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  private async process(batch: Batch): Promise<void> {
    const started = process.hrtime.bigint();
    const records = batch.records.map((r) => r.value);
    const n = this.opts.pool.size;
    const chunk = Math.min(this.opts.taskRecords ?? DEFAULT_TASK_RECORDS, Math.ceil(records.length / n));
    const tasks: Uint8Array[][] = [];
    for (let i = 0; i < records.length; i += chunk) tasks.push(records.slice(i, i + chunk));
    const etl = Date.now();
    const parts = tasks.map((t) => this.opts.pool.run(t, etl));
    const results = await Promise.all(parts);
    const good = results.flatMap((r) => r.good.map((l) => ({ value: encoder.encode(l) })));
    const bad = results.flatMap((r) => r.bad.map((l) => ({ value: encoder.encode(l) })));
    await Promise.all([
      good.length > 0 ? this.opts.enriched.publish(good) : undefined,
      bad.length > 0 ? this.opts.bad.publish(bad) : undefined,
    ]);
    await batch.ack();
    const m = this.opts.metrics;
    if (m !== undefined) {
      m.events.inc({ stage: 'enrich', outcome: 'good' }, good.length);
      m.events.inc({ stage: 'enrich', outcome: 'bad' }, bad.length);
      for (const r of results) for (const b of r.bad) m.badRows.inc({ type: badRowType(b) });
      m.batchSize.observe({ stage: 'enrich' }, records.length);
      m.batchSeconds.observe({ stage: 'enrich' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
    const onResult = this.opts.onResult;
    if (onResult !== undefined) for (let k = 0; k < results.length; k++) onResult(results[k], tasks[k]);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.signalStopped();
    await this.loop;
    await this.sub?.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
