import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKafkaStreamsConfig } from './config.js';
import { PublishError, Publisher, partitionForKey } from './publisher.js';

test("keyed records get the Java client's partition: toPositive(murmur2(key)) % n", () => {
  // murmur2 vectors from Kafka's own UtilsTest; the partition is (hash & 0x7fffffff) % n
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, hash] of vectors) {
    for (const n of [1, 3, 4, 12]) {
      assert.equal(partitionForKey(Buffer.from(key), n), (hash & 0x7fffffff) % n, `${key} over ${n}`);
    }
  }
});

test('a publish that cannot reach any broker fails after deliveryTimeoutMs with a clear error', async () => {
  const cfg = parseKafkaStreamsConfig({
    brokers: ['127.0.0.1:1'],
    deliveryTimeoutMs: 800,
    connectTimeoutMs: 200,
    requestTimeoutMs: 300,
  });
  const p = new Publisher(cfg);
  const started = Date.now();
  await assert.rejects(p.publish('t', [{ key: 'k', value: Buffer.from('v') }]), (e: unknown) => {
    assert.ok(e instanceof PublishError);
    assert.match(e.message, /Kafka publish failed/);
    return true;
  });
  assert.ok(Date.now() - started < 15_000, 'bounded');
  await p.close();
  await assert.rejects(p.publish('t', [{ value: Buffer.from('v') }]), /closed/);
});

test('an empty publish resolves at once without a broker', async () => {
  const p = new Publisher(parseKafkaStreamsConfig({ brokers: ['127.0.0.1:1'] }));
  await p.publish('t', []);
  await p.close();
});
