import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifySendError, describeError, hasKafkaError, kafkaErrorIds } from './errors.js';

/** the shape @platformatic/kafka reports: MultipleErrors → ResponseError → ProtocolError{apiId} */
function nested(...apiIds: string[]): Error {
  const leaves = apiIds.map((apiId) =>
    Object.assign(new Error(`protocol ${apiId}`), { apiId, code: 'PLT_KFK_PROTOCOL' }),
  );
  const response = Object.assign(new AggregateError(leaves, 'Received response with error'), {
    code: 'PLT_KFK_RESPONSE',
  });
  return Object.assign(new AggregateError([response], 'Producing messages failed.'), {
    code: 'PLT_KFK_MULTIPLE',
  });
}

test('protocol error names are found at any depth, also through cause', () => {
  assert.deepEqual([...kafkaErrorIds(nested('NOT_LEADER_OR_FOLLOWER'))].sort(), [
    'NOT_LEADER_OR_FOLLOWER',
    'PLT_KFK_MULTIPLE',
    'PLT_KFK_PROTOCOL',
    'PLT_KFK_RESPONSE',
  ]);
  const wrapped = new Error('outer', { cause: nested('OFFSET_OUT_OF_RANGE') });
  assert.ok(hasKafkaError(wrapped, 'OFFSET_OUT_OF_RANGE'));
  assert.equal(hasKafkaError(wrapped, 'UNKNOWN_MEMBER_ID'), false);
});

test('send failures: transient ones retry, producer-state ones reset the producer, the rest are final', () => {
  assert.equal(classifySendError(nested('NOT_LEADER_OR_FOLLOWER')), 'retry');
  assert.equal(
    classifySendError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'PLT_KFK_NETWORK' })),
    'retry',
  );
  assert.equal(classifySendError(new Error('socket hang up')), 'retry');
  assert.equal(classifySendError(nested('OUT_OF_ORDER_SEQUENCE_NUMBER')), 'reset-producer');
  assert.equal(classifySendError(nested('UNKNOWN_PRODUCER_ID', 'NOT_LEADER_OR_FOLLOWER')), 'reset-producer');
  assert.equal(classifySendError(nested('MESSAGE_TOO_LARGE')), 'final');
  assert.equal(classifySendError(nested('OUT_OF_ORDER_SEQUENCE_NUMBER', 'RECORD_LIST_TOO_LARGE')), 'final');
});

test('descriptions name the protocol errors', () => {
  assert.equal(describeError(nested('MESSAGE_TOO_LARGE')), 'Producing messages failed. (MESSAGE_TOO_LARGE)');
  assert.equal(describeError('plain'), 'plain');
});
