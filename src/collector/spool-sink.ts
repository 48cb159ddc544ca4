/**
 * The collector's sink when it has a spool: raw records are appended (fsync before the promise
 * resolves), collector-side bad rows go straight to the bad stream (durable publish).
 */
import type { Stream } from '../streams/types.js';
import type { CollectorSink, RawBatch } from './handler.js';
import type { CollectorSpool } from './spool.js';

const encoder = new TextEncoder();

export class SpoolSink implements CollectorSink {
  readonly alloc?: (size: number) => Buffer;

  constructor(
    private readonly spool: CollectorSpool,
    private readonly bad: Stream,
  ) {
    this.alloc = spool.alloc;
  }

  storeRaw(batch: RawBatch): Promise<void> {
    // one append for the whole request: one group-commit entry, all records durable or none
    return this.spool.append(batch.records);
  }

  async storeBad(rows: string[]): Promise<void> {
    await this.bad.publish(rows.map((r) => ({ value: encoder.encode(r) })));
  }
}
