import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaConfigError, parseKafkaStreamsConfig, securityOptions } from './config.js';

function errorKey(input: unknown): string {
  try {
    parseKafkaStreamsConfig(input);
  } catch (e) {
    assert.ok(e instanceof KafkaConfigError, String(e));
    return e.key;
  }
  assert.fail('expected a KafkaConfigError');
}

test('defaults: a local broker, durable and idempotent producer, topics furrow-<name>', () => {
  const c = parseKafkaStreamsConfig(undefined);
  assert.deepEqual(c.brokers, ['127.0.0.1:9092']);
  assert.equal(c.acks, 'all');
  assert.equal(c.idempotent, true);
  assert.equal(c.compression, 'none');
  assert.deepEqual(c.batching, { lingerMs: 5, maxBytes: 1024 * 1024, maxRecords: 1000 });
  assert.equal(c.partitions, 4);
  assert.equal(c.replicationFactor, 1);
  assert.equal(c.consumer.autoOffsetReset, 'earliest');
  assert.equal(c.topicFor('raw'), 'furrow-raw');
  assert.equal(c.topicFor('enriched'), 'furrow-enriched');
});

test('explicit topic names (Snowplow topics) win over the prefix, for raw/enriched/bad and others', () => {
  const c = parseKafkaStreamsConfig({
    topicPrefix: 'acme.',
    topics: { raw: 'snowplow-raw-good', bad: 'snowplow-bad', forwarded: 'fwd' },
  });
  assert.equal(c.topicFor('raw'), 'snowplow-raw-good');
  assert.equal(c.topicFor('bad'), 'snowplow-bad');
  assert.equal(c.topicFor('forwarded'), 'fwd');
  assert.equal(c.topicFor('enriched'), 'acme.enriched');
});

test('nested options keep their defaults when only some are given', () => {
  const c = parseKafkaStreamsConfig({ batching: { lingerMs: 0 }, consumer: { sessionTimeoutMs: 30_000 } });
  assert.equal(c.batching.lingerMs, 0);
  assert.equal(c.batching.maxRecords, 1000);
  assert.equal(c.consumer.sessionTimeoutMs, 30_000);
  assert.equal(c.consumer.heartbeatIntervalMs, 1000);
});

test('errors name the key at fault', () => {
  assert.equal(errorKey({ brokers: ['kafka'] }), 'streams.kafka.brokers.0');
  assert.equal(errorKey({ brokers: [] }), 'streams.kafka.brokers');
  assert.equal(errorKey({ clientId: 'has space' }), 'streams.kafka.clientId');
  assert.equal(errorKey({ topics: { raw: 'bad/topic' } }), 'streams.kafka.topics.raw');
  assert.equal(errorKey({ compression: 'zstd' }), 'streams.kafka.compression');
  assert.equal(errorKey({ acks: 1 }), 'streams.kafka.acks');
  assert.equal(errorKey({ batching: { lingerMs: -1 } }), 'streams.kafka.batching.lingerMs');
  assert.equal(errorKey({ batching: { linger: 5 } }), 'streams.kafka.batching.linger');
  assert.equal(errorKey({ partitions: 0 }), 'streams.kafka.partitions');
  assert.equal(errorKey({ replicationFactor: 1.5 }), 'streams.kafka.replicationFactor');
  assert.equal(errorKey({ consumer: { autoOffsetReset: 'none' } }), 'streams.kafka.consumer.autoOffsetReset');
  assert.equal(
    errorKey({ consumer: { sessionTimeoutMs: 3000, heartbeatIntervalMs: 2000 } }),
    'streams.kafka.consumer.heartbeatIntervalMs',
  );
  assert.equal(errorKey({ sasl: { mechanism: 'PLAIN', username: 'u' } }), 'streams.kafka.sasl.password');
  assert.equal(errorKey({ brokerz: [] }), 'streams.kafka.brokerz');
});

test('the message carries the key and the reason', () => {
  assert.throws(
    () => parseKafkaStreamsConfig({ partitions: -2 }, 'kafka'),
    /^KafkaConfigError: kafka\.partitions: /,
  );
});

test('a stream name that makes an invalid topic is refused with the topics key', () => {
  const c = parseKafkaStreamsConfig({});
  assert.throws(() => c.topicFor('no/slash'), /streams\.kafka\.topics\.no\/slash/);
});

test('security options carry TLS and SASL to every client only when configured', () => {
  assert.deepEqual(securityOptions(parseKafkaStreamsConfig({})), {});
  const c = parseKafkaStreamsConfig({
    tls: true,
    sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' },
  });
  assert.deepEqual(securityOptions(c), {
    tls: {},
    sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' },
  });
});
