/**
 * Micro mode's collector sink: each payload is enriched in-process and stored before the collector
 * answers, so a test that queries right after its tracker's request sees the event (Snowplow Micro
 * ≤2.3 behaved the same; later versions made it eventually consistent and suites had to sleep).
 */
import type { CollectorSink, RawBatch } from '../collector/handler.js';
import type { Enricher, EnrichOutput } from '../enrich/pipeline.js';
import type { MicroStore } from './store.js';

/** Puts one enrichment output (with its trace) into the store. */
export function storeOutputs(store: MicroStore, out: EnrichOutput): void {
  const trace = out.trace;
  if (trace === undefined) throw new Error('Micro needs traced enrichment output');
  for (let i = 0; i < out.good.length; i++) store.addGood(trace.good[i], out.good[i]);
  for (let i = 0; i < out.bad.length; i++) {
    const t = trace.bad[i];
    store.addBad(t?.payload ?? null, t?.raw ?? null, out.bad[i]);
  }
}

export class MicroSink implements CollectorSink {
  constructor(
    private readonly enricher: Enricher,
    private readonly store: MicroStore,
  ) {}

  async storeRaw(batch: RawBatch): Promise<void> {
    for (const p of batch.payloads) {
      const out: EnrichOutput = { good: [], bad: [], trace: { good: [], bad: [] } };
      await this.enricher.processPayload(p, out);
      storeOutputs(this.store, out);
    }
  }

  async storeBad(rows: string[]): Promise<void> {
    for (const r of rows) this.store.addBad(null, null, r);
  }
}
