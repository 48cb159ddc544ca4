import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkNatsName, NatsConfigError, parseNatsStreamsConfig } from './config.js';

describe('nats streams config', () => {
  it('fills defaults', () => {
    const c = parseNatsStreamsConfig(undefined);
    assert.deepEqual(c.servers, ['nats://127.0.0.1:4222']);
    assert.equal(c.storage, 'file');
    assert.equal(c.replicas, 1);
    assert.equal(c.maxBytes, -1);
    assert.equal(c.discard, 'old');
    assert.equal(c.ackWaitMs, 30_000);
    assert.equal(c.duplicateWindowMs, 120_000);
    assert.equal(c.streamPrefix, 'furrow-');
    assert.equal(c.subjectPrefix, 'furrow');
  });

  it('keeps given values', () => {
    const c = parseNatsStreamsConfig({
      servers: ['nats://a:4222', 'nats://b:4222'],
      replicas: 3,
      discard: 'new',
    });
    assert.deepEqual(c.servers, ['nats://a:4222', 'nats://b:4222']);
    assert.equal(c.replicas, 3);
    assert.equal(c.discard, 'new');
  });

  it('names the key at fault', () => {
    const bad: Array<[unknown, string]> = [
      [{ replicas: 0 }, 'streams.nats.replicas'],
      [{ servers: [] }, 'streams.nats.servers'],
      [{ storage: 'disk' }, 'streams.nats.storage'],
      [{ subjectPrefix: 'a.*' }, 'streams.nats.subjectPrefix'],
      [{ streamPrefix: 'a.b' }, 'streams.nats.streamPrefix'],
      [{ ackWaitMs: 'long' }, 'streams.nats.ackWaitMs'],
      [{ ackWait: 5 }, 'streams.nats.ackWait'],
    ];
    for (const [input, key] of bad) {
      assert.throws(
        () => parseNatsStreamsConfig(input),
        (e: unknown) => e instanceof NatsConfigError && e.key === key && e.message.startsWith(`${key}: `),
        key,
      );
    }
  });

  it('uses the caller key prefix', () => {
    assert.throws(
      () => parseNatsStreamsConfig({ replicas: 9 }, 'roles.enrich.streams'),
      (e: unknown) => e instanceof NatsConfigError && e.key === 'roles.enrich.streams.replicas',
    );
  });

  it('accepts only names JetStream can hold', () => {
    checkNatsName('stream', 'raw');
    checkNatsName('group', 'enrich_1-a');
    for (const bad of ['', 'a.b', 'a b', 'a*', 'a>', 'x'.repeat(65)]) {
      assert.throws(() => checkNatsName('group', bad), /invalid group name/);
    }
  });
});
