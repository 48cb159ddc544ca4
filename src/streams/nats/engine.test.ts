import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNatsStreamsConfig } from './config.js';
import { ackSubjectTimestamp, consumerConfigFor, decodeKey, encodeKey, streamConfigFor } from './engine.js';

describe('nats engine helpers', () => {
  it('reads the store time from both ack subject forms', () => {
    const ns = '1795650502413621655';
    assert.equal(ackSubjectTimestamp(`$JS.ACK.s.c.1.2.3.${ns}.0`), 1795650502413);
    assert.equal(ackSubjectTimestamp(`$JS.ACK.dom.ACCHASH.s.c.1.2.3.${ns}.0.tok`), 1795650502413);
    assert.equal(ackSubjectTimestamp(`$JS.ACK.dom.ACCHASH.s.c.1.2.3.${ns}.0`), 1795650502413);
    assert.equal(ackSubjectTimestamp('_INBOX.abc'), undefined);
    assert.equal(ackSubjectTimestamp('$JS.ACK.s.c.1.2.3.x.0'), undefined);
  });

  it('round-trips any key through the header encoding', () => {
    for (const k of ['', 'k1', 'a b', 'line\r\nbreak', 'ünï©ødé', '%41', ': colon']) {
      const v = encodeKey(k);
      assert.ok(!/[\r\n]/.test(v));
      assert.equal(decodeKey(v), k);
    }
    assert.equal(decodeKey('%E0%A4%A'), '%E0%A4%A', 'a foreign malformed value is kept as is');
  });

  it('maps config to the stream and consumer configuration', () => {
    const cfg = parseNatsStreamsConfig({
      replicas: 3,
      maxBytes: 1 << 30,
      maxAgeMs: 3600_000,
      discard: 'new',
      duplicateWindowMs: 60_000,
      ackWaitMs: 5000,
      maxAckPending: 100,
    });
    const s = streamConfigFor(cfg, 'raw');
    assert.equal(s.name, 'furrow-raw');
    assert.deepEqual(s.subjects, ['furrow.raw']);
    assert.equal(s.storage, 'file');
    assert.equal(s.retention, 'limits');
    assert.equal(s.num_replicas, 3);
    assert.equal(s.max_bytes, 1 << 30);
    assert.equal(s.max_age, 3600_000 * 1e6);
    assert.equal(s.discard, 'new');
    assert.equal(s.duplicate_window, 60_000 * 1e6);
    const c = consumerConfigFor(cfg, 'raw', 'enrich');
    assert.equal(c.durable_name, 'enrich');
    assert.equal(c.ack_policy, 'explicit');
    assert.equal(c.ack_wait, 5000 * 1e6);
    assert.equal(c.max_ack_pending, 100);
    assert.equal(c.deliver_policy, 'all');
    assert.equal(c.filter_subject, 'furrow.raw');
  });
});
