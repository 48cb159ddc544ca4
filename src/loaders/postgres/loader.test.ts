import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { badRowJson, copyErrorLine, isConnectionError } from './loader.js';

function pgError(message: string, code?: string, where?: string): Error {
  return Object.assign(new Error(message), { code, where });
}

describe('postgres loader helpers', () => {
  it('classifies connection failures', () => {
    assert.ok(isConnectionError(pgError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')));
    assert.ok(isConnectionError(pgError('terminating connection due to administrator command', '57P01')));
    assert.ok(isConnectionError(pgError('connection failure', '08006')));
    assert.ok(isConnectionError(new Error('Connection terminated unexpectedly')));
    assert.ok(isConnectionError(new Error('Client has encountered a connection error and is not queryable')));
    assert.ok(!isConnectionError(pgError('duplicate key', '23505')));
    assert.ok(!isConnectionError('string'));
  });

  it('finds the failing row of a COPY data error', () => {
    assert.equal(
      copyErrorLine(pgError('x', '22P02', 'COPY furrow_stage, line 3, column geo_latitude: "x"')),
      2,
    );
    assert.equal(
      copyErrorLine(pgError('x', '22003', 'JSON data, line 1: …\nCOPY furrow_stage, line 7, column c')),
      6,
    );
    assert.equal(copyErrorLine(pgError('x', '08006', 'COPY furrow_stage, line 3')), undefined);
    assert.equal(copyErrorLine(pgError('x', '22P02')), undefined);
  });

  it('prepares bad rows for jsonb', () => {
    const sd = '{"schema":"iglu:a/b/jsonschema/1-0-0","data":{"x":1}}';
    assert.equal(badRowJson(sd), sd, 'kept byte for byte');
    assert.equal(badRowJson('not json'), '"not json"');
    assert.equal(badRowJson('{"a":"\\u0000"}'), '{"a":"\ufffd"}');
    assert.equal(badRowJson('{"a":"\\ud800"}'), '{"a":"\ufffd"}');
    assert.equal(badRowJson('{"a":"\\ud83d\\ude00"}'), '{"a":"\ud83d\ude00"}');
    assert.equal(badRowJson('{"a":1e9999999}'), '{"a":null}');
    assert.equal(badRowJson('{"\\u0000":1}'), JSON.stringify('{"\\u0000":1}'));
    assert.equal(badRowJson('x\u0000y'), '"x\ufffdy"');
  });
});
