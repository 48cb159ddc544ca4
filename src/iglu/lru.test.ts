import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lru } from './lru.js';

test('evicts the least recently used entry and reports it', () => {
  const evicted: string[] = [];
  const lru = new Lru<string, number>(2, (k) => evicted.push(k));
  lru.set('a', 1);
  lru.set('b', 2);
  assert.equal(lru.get('a'), 1); // a is now newer than b
  lru.set('c', 3);
  assert.deepEqual(evicted, ['b']);
  assert.equal(lru.get('b'), undefined);
  assert.equal(lru.size, 2);
  lru.set('a', 10); // replacing reports the old value
  assert.deepEqual(evicted, ['b', 'a']);
  lru.clear();
  assert.equal(lru.size, 0);
});

test('capacity 0 stores nothing', () => {
  const lru = new Lru<string, number>(0);
  lru.set('a', 1);
  assert.equal(lru.get('a'), undefined);
});
