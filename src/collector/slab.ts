/**
 * Carves buffers for raw records out of large slabs. Node's own pool behind `Buffer.allocUnsafe` is
 * 8 KiB, so 1–4 KB collector records made it allocate a fresh pool ArrayBuffer every 2–6 requests
 * (`createPool` was ~5 % of the collector's CPU in profiles); a 256 KiB slab does that once per ~100.
 * A slab stays alive while any buffer cut from it does, so buffers of one slab should have similar
 * lifetimes (the records the logs keep in memory for their readers, then let go in order). Used by the
 * collector for its raw records. A buffer cut from a slab must not be posted to another thread as it is (a
 * structured clone copies its whole ArrayBuffer, i.e. the slab): the enrich pool packs records first.
 *
 * @example
 *     const slab = new Slab();
 *     const bytes = encodeCollectorPayloadWith(payload, slab.alloc);
 */
export class Slab {
  private buf: Buffer;
  private off = 0;

  constructor(private readonly size = 256 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** Uninitialised bytes, like `Buffer.allocUnsafe`: the caller writes every one of them. */
  readonly alloc = (n: number): Buffer => {
    if (n > this.size >>> 3) return Buffer.allocUnsafeSlow(n);
    if (this.off + n > this.size) {
      this.buf = Buffer.allocUnsafeSlow(this.size);
      this.off = 0;
    }
    const b = this.buf.subarray(this.off, this.off + n);
    // 8-byte alignment, as Node's pool keeps it
    this.off = (this.off + n + 7) & ~7;
    return b;
  };
}
