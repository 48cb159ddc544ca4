import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { estimateLag, timestampMs } from './engine.js';

describe('pubsub engine helpers', () => {
  it('converts protobuf timestamps (numbers, strings, Longs) to ms', () => {
    assert.equal(timestampMs({ seconds: 1795650226, nanos: 48_000_000 }), 1795650226048);
    assert.equal(timestampMs({ seconds: '1795650226', nanos: 999_999 }), 1795650226000);
    assert.equal(timestampMs({ seconds: { toString: () => '10' } }), 10_000);
    assert.equal(timestampMs(null), undefined);
    assert.equal(timestampMs({ seconds: null }), undefined);
  });

  it('estimates lag locally: published minus acked, at least what is held', () => {
    assert.equal(estimateLag(10, 10, 0), 0);
    assert.equal(estimateLag(11, 10, 0), 1);
    assert.equal(estimateLag(0, 0, 7), 7, 'a consumer-only process reports what it holds');
    assert.equal(estimateLag(5, 8, 0), 0, 'redeliveries never make it negative');
  });
});
