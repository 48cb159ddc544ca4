import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BoundedJson, jsonDepthExceeds, parseBoundedJson } from './bounded-json.js';

/** The straightforward definition: scan every character, then parse. */
function referenceExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (++depth > maxDepth) return true;
    } else if (c === '}' || c === ']') depth--;
  }
  return false;
}

function reference(text: string, maxDepth: number): BoundedJson {
  if (referenceExceeds(text, maxDepth))
    return { ok: false, error: 'invalid json: maximum allowed JSON depth exceeded' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: `invalid json: ${(e as Error).message}` };
  }
}

function nested(depth: number, open = '[', close = ']'): string {
  return open.repeat(depth) + close.repeat(depth);
}

test('the depth limit counts arrays and objects, inclusive of the limit', () => {
  assert.equal(parseBoundedJson(nested(50), 50).ok, true);
  assert.deepEqual(parseBoundedJson(nested(51), 50), {
    ok: false,
    error: 'invalid json: maximum allowed JSON depth exceeded',
  });
  const obj = (d: number): string => (d === 0 ? '1' : `{"a":${obj(d - 1)}}`);
  assert.equal(parseBoundedJson(obj(3), 3).ok, true);
  assert.equal(parseBoundedJson(obj(4), 3).ok, false);
  // an empty container at the limit + 1 is too deep too
  assert.equal(parseBoundedJson('{"a":{"b":[]}}', 2).ok, false);
  assert.equal(parseBoundedJson('{"a":{"b":1},"c":[1,2]}', 2).ok, true);
});

test('brackets inside strings, escaped quotes included, do not count', () => {
  const text = JSON.stringify({ s: `${'['.repeat(100)}\\"${'{'.repeat(100)}"\\`, t: '"]]]' });
  assert.equal(jsonDepthExceeds(text, 1), false);
  assert.deepEqual(parseBoundedJson(text, 1), { ok: true, value: JSON.parse(text) });
});

test('too deep wins over malformed, whichever path the text takes', () => {
  for (const text of [`${nested(51)},`, `${'['.repeat(60)}x`, `${'['.repeat(2000)}oops`]) {
    assert.deepEqual(parseBoundedJson(text, 50), reference(text, 50), text.slice(0, 20));
    assert.equal((parseBoundedJson(text, 50) as { error: string }).error.includes('depth'), true);
  }
  const shallow = parseBoundedJson('[[1,]]', 50);
  assert.equal(shallow.ok, false);
  assert.match((shallow as { error: string }).error, /^invalid json: (?!maximum)/);
});

test('texts with many brackets (scanned before parsing) give the same answers', () => {
  const wide = JSON.stringify(Array.from({ length: 3000 }, (_, i) => ({ i, a: [i] })));
  assert.deepEqual(parseBoundedJson(wide, 3), { ok: true, value: JSON.parse(wide) });
  assert.equal(parseBoundedJson(wide, 2).ok, false);
  const deep = nested(200_000);
  assert.deepEqual(parseBoundedJson(deep, 50), reference(deep, 50));
});

test('random texts: the same result as scanning every character before parsing', () => {
  let s = 7;
  const rand = (n: number): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
  const atoms = ['"', '\\', '{', '}', '[', ']', '1', ',', ':', '"a"', '"\\\\"', '"\\""', ' '];
  for (let t = 0; t < 20_000; t++) {
    let text = '';
    const len = rand(40);
    for (let i = 0; i < len; i++) text += atoms[rand(atoms.length)];
    const max = rand(6);
    assert.equal(jsonDepthExceeds(text, max), referenceExceeds(text, max), JSON.stringify(text));
    assert.deepEqual(parseBoundedJson(text, max), reference(text, max), JSON.stringify(text));
  }
  // valid JSON of random shape and depth, around the limit
  const value = (d: number): unknown => {
    if (d === 0 || rand(4) === 0) return rand(2) === 0 ? 'x[{"' : rand(100);
    const n = rand(3);
    return rand(2) === 0
      ? Array.from({ length: n }, () => value(d - 1))
      : Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, value(d - 1)]));
  };
  for (let t = 0; t < 5_000; t++) {
    const text = JSON.stringify(value(8));
    const max = rand(8);
    assert.deepEqual(parseBoundedJson(text, max), reference(text, max), text);
  }
});
