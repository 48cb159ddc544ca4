/**
 * Micro mode's collector sink: each payload is enriched in-process and stored before the collector
 * answers, so a test that queries right after its tracker's request sees the event (Snowplow Micro
 * ≤2.3 behaved the same; later versions made it eventually consistent and suites had to sleep).
 */
import type { CollectorSink, RawBatch } from '../collector/handler.js';
import type { Enricher, EnrichOutput } from '../enrich/pipeline.js';
import type { TaskResult } from '../enrich/worker/protocol.js';
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

/**
 * Puts one enrich worker task's outputs into the store (`furrow up`): by reference to the task's records
 * where the worker gave one (see `TaskResult.goodRefs`), else from the JSON or trace it sent.
 */
export function storeTaskResult(store: MicroStore, r: TaskResult, records: readonly Uint8Array[]): void {
  const { goodRefs, badRefs } = r;
  if (goodRefs === undefined || badRefs === undefined)
    throw new Error('Micro needs traced enrichment output');
  const owned: (Uint8Array | undefined)[] = [];
  const own = (i: number): Uint8Array => {
    let b = owned[i];
    if (b === undefined) {
      b = records[i];
      // A view (on a read buffer, a Buffer pool slab) would keep the whole buffer alive in the store.
      if (b.byteOffset !== 0 || b.byteLength !== b.buffer.byteLength) b = new Uint8Array(b);
      owned[i] = b;
    }
    return b;
  };
  let json = 0;
  for (let i = 0; i < r.good.length; i++) {
    const event = goodRefs[2 * i + 1];
    if (event === -1) store.addGoodSerialized((r.goodRawJson as string[])[json++], r.good[i]);
    else store.addGoodRef(own(goodRefs[2 * i]), event, r.good[i]);
  }
  let traced = 0;
  for (let i = 0; i < r.bad.length; i++) {
    const event = badRefs[2 * i + 1];
    if (event === -2) {
      const t = r.badRaw?.[traced++];
      store.addBad(t?.payload ?? null, t?.raw ?? null, r.bad[i]);
    } else store.addBadRef(own(badRefs[2 * i]), event, r.bad[i]);
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
