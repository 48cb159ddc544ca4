/**
 * The load stage: enriched stream → warehouse, bad stream → warehouse bad-row table. Positions are
 * acknowledged only after the warehouse committed; replays are harmless because loaders dedupe.
 */
import { sleep } from '../enrich/stage.js';
import type { Logger } from '../runtime/logger.js';
import type { Metrics } from '../runtime/metrics.js';
import type { Batch, Stream, Subscription } from '../streams/types.js';
import type { Loader } from './types.js';

export interface LoadStageOptions {
  enriched: Stream;
  bad: Stream;
  loader: Loader;
  group?: string;
  batchSize?: number;
  maxWaitMs?: number;
  metrics?: Metrics;
  log?: Logger;
}

const decoder = new TextDecoder();

export class LoadStage {
  private running = false;
  private loops: Promise<void>[] = [];
  private subs: Subscription[] = [];

  constructor(private readonly opts: LoadStageOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const group = this.opts.group ?? 'loader';
    const good = this.opts.enriched.subscribe(group);
    const bad = this.opts.bad.subscribe(group);
    this.subs = [good, bad];
    this.loops = [
      this.run(good, 'good', async (lines) => {
        const r = await this.opts.loader.loadGood(lines);
        this.opts.metrics?.events.inc({ stage: 'loader', outcome: 'loaded' }, r.inserted);
        this.opts.metrics?.events.inc(
          { stage: 'loader', outcome: 'duplicate' },
          lines.length - r.inserted - r.rejected,
        );
        this.opts.metrics?.events.inc({ stage: 'loader', outcome: 'rejected' }, r.rejected);
      }),
      this.run(bad, 'bad', async (rows) => {
        await this.opts.loader.loadBad(rows);
      }),
    ];
  }

  private async run(
    sub: Subscription,
    kind: string,
    load: (lines: string[]) => Promise<void>,
  ): Promise<void> {
    const max = this.opts.batchSize ?? 5000;
    const wait = this.opts.maxWaitMs ?? 500;
    while (this.running) {
      let batch: Batch;
      try {
        batch = await sub.next(max, wait);
      } catch (e) {
        this.opts.log?.error({ err: e }, `loader: reading the ${kind} stream failed`);
        await sleep(500);
        continue;
      }
      if (batch.records.length === 0) continue;
      const lines = batch.records.map((r) => decoder.decode(r.value));
      let delay = 100;
      for (;;) {
        const started = process.hrtime.bigint();
        try {
          await load(lines);
          await batch.ack();
          this.opts.metrics?.batchSize.observe({ stage: `loader_${kind}` }, lines.length);
          this.opts.metrics?.batchSeconds.observe(
            { stage: `loader_${kind}` },
            Number(process.hrtime.bigint() - started) / 1e9,
          );
          break;
        } catch (e) {
          this.opts.log?.error({ err: e }, `loader: loading a ${kind} batch failed, retrying`);
          // Stopping leaves the batch unacknowledged: it is loaded again after the restart.
          if (!this.running) return;
          await sleep(delay);
          delay = Math.min(delay * 2, 10_000);
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all(this.subs.map((s) => s.close()));
  }
}
