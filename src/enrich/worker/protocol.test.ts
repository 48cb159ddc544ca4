import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packRecords, unpackRecords } from './protocol.js';

describe('worker task packing', () => {
  it('packs views on a big buffer into a buffer of just their bytes, and unpacks them unchanged', () => {
    const slab = new Uint8Array(256 * 1024);
    for (let i = 0; i < slab.length; i++) slab[i] = i % 251;
    const records = [
      slab.subarray(10, 20),
      slab.subarray(0, 0),
      slab.subarray(1000, 1500),
      slab.subarray(5, 6),
    ];
    const { data, ends } = packRecords(records);
    // what is transferred to the worker is the records' bytes, not the slab behind them
    assert.equal(data.buffer.byteLength, 10 + 0 + 500 + 1);
    assert.deepEqual(ends, [10, 10, 510, 511]);
    const back = unpackRecords({ data, ends });
    assert.equal(back.length, records.length);
    for (let i = 0; i < records.length; i++) assert.deepEqual(Buffer.from(back[i]), Buffer.from(records[i]));
  });
});
