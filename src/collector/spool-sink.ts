/**
 * The collector's sink when it has a spool: raw records are appended (fsync before the promise
 * resolves), collector-side bad rows go straight to the bad stream (durable publish).
 */
import type { Stream } from '../streams/types.js';
import type { CollectorSink, RawBatch } from './handler.js';
import type { Spool } from './spool.js';

const encoder = new TextEncoder();

export class SpoolSink implements CollectorSink {
  constructor(
    private readonly spool: Spool,
    private readonly bad: Stream,
  ) {}

  async storeRaw(batch: RawBatch): Promise<void> {
    await Promise.all(batch.records.map((r) => this.spool.append(r)));
  }

  async storeBad(rows: string[]): Promise<void> {
    await this.bad.publish(rows.map((r) => ({ value: encoder.encode(r) })));
  }
}
