import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkPubSubName,
  PubSubConfigError,
  parsePubSubStreamsConfig,
  subscriptionId,
  topicId,
} from './config.js';

describe('pubsub streams config', () => {
  it('fills defaults', () => {
    const c = parsePubSubStreamsConfig(undefined);
    assert.equal(c.projectId, undefined);
    assert.equal(c.topicPrefix, 'furrow-');
    assert.equal(c.ackDeadlineSeconds, 60);
    assert.equal(c.ordering, true);
    assert.equal(c.topicRetentionSeconds, 7 * 24 * 3600);
    assert.equal(c.publishBatchMaxMessages, 1000);
  });

  it('names the key at fault', () => {
    const bad: Array<[unknown, string]> = [
      [{ ackDeadlineSeconds: 5 }, 'streams.pubsub.ackDeadlineSeconds'],
      [{ ackDeadlineSeconds: 601 }, 'streams.pubsub.ackDeadlineSeconds'],
      [{ projectId: 'Bad_Project' }, 'streams.pubsub.projectId'],
      [{ topicPrefix: '1abc' }, 'streams.pubsub.topicPrefix'],
      [{ topicRetentionSeconds: 60 }, 'streams.pubsub.topicRetentionSeconds'],
      [{ ordering: 'yes' }, 'streams.pubsub.ordering'],
      [{ exactlyOnce: true }, 'streams.pubsub.exactlyOnce'],
    ];
    for (const [input, key] of bad) {
      assert.throws(
        () => parsePubSubStreamsConfig(input),
        (e: unknown) => e instanceof PubSubConfigError && e.key === key && e.message.startsWith(`${key}: `),
        key,
      );
    }
  });

  it('derives topic and subscription ids', () => {
    const c = parsePubSubStreamsConfig({ topicPrefix: 'prod-' });
    assert.equal(topicId(c, 'raw'), 'prod-raw');
    assert.equal(subscriptionId(c, 'raw', 'enrich'), 'prod-raw.enrich');
    assert.doesNotThrow(() => parsePubSubStreamsConfig({ topicRetentionSeconds: 0 }));
  });

  it('accepts only names that fit in resource ids', () => {
    checkPubSubName('stream', 'raw');
    checkPubSubName('group', 'loader_pg-1');
    for (const bad of ['', 'a.b', 'a b', 'a/b', 'x'.repeat(101)]) {
      assert.throws(() => checkPubSubName('group', bad), /invalid group name/);
    }
  });
});
