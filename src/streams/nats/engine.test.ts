import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNatsStreamsConfig } from './config.js';
import {
  ackSubjectTimestamp,
  consumerConfigFor,
  decodeKey,
  encodeKey,
  pubAckFailure,
  streamConfigFor,
} from './engine.js';

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
  it('reads PubAcks: stored, duplicate, JetStream error, no stream (503 status), garbage', () => {
    const msg = (json: string, code?: number) => ({
      data: new TextEncoder().encode(json),
      headers: code === undefined ? undefined : ({ code } as never),
    });
    assert.equal(pubAckFailure(msg('{"stream":"s","seq":7}'), 's'), undefined);
    assert.equal(pubAckFailure(msg('{"stream":"s","seq":7,"duplicate":true}'), 's'), undefined);
    const e = pubAckFailure(
      msg('{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}}'),
      's',
    ) as Error & { code?: number };
    assert.match(e.message, /expected stream does not match/);
    assert.equal(e.code, 10060);
    assert.match(String(pubAckFailure(msg('', 503), 's')?.message), /no JetStream stream/);
    assert.match(String(pubAckFailure(msg('not json'), 's')?.message), /invalid PubAck/);
    assert.match(String(pubAckFailure(msg('{}'), 's')?.message), /invalid PubAck/);
  });
});
