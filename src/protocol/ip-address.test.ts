import assert from 'node:assert/strict';
import { test } from 'node:test';
import { extractClientIp, firstIpToken } from './ip-address.js';

const SOCKET = '10.0.0.1';

test('V18: first IP of X-Forwarded-For wins', () => {
  assert.equal(extractClientIp(['X-Forwarded-For: 129.78.138.66, 129.78.64.103'], SOCKET), '129.78.138.66');
});

test('V18: X-Forwarded-For beats Forwarded regardless of order', () => {
  assert.equal(extractClientIp(['Forwarded: for=2.2.2.2', 'X-Forwarded-For: 1.1.1.1'], SOCKET), '1.1.1.1');
  assert.equal(extractClientIp(['X-Forwarded-For: 1.1.1.1', 'Forwarded: for=2.2.2.2'], SOCKET), '1.1.1.1');
});

test('V18: quoted, bracketed IPv6', () => {
  assert.equal(
    extractClientIp(['X-Forwarded-For: "[2001:0db8:85a3:0000:0000:8a2e:0370:7334]"'], SOCKET),
    '2001:0db8:85a3:0000:0000:8a2e:0370:7334',
  );
  assert.equal(
    extractClientIp(['x-forwarded-for: [1fff:0:a88:85a3::ac1f]:8001'], SOCKET),
    '1fff:0:a88:85a3::ac1f',
  );
});

test('trailing garbage and ports are cut', () => {
  assert.equal(extractClientIp(['X-Forwarded-For: 129.78.138.66abcdefg'], SOCKET), '129.78.138.66');
  assert.equal(extractClientIp(['X-FORWARDED-FOR: 1.1.1.1:8080'], SOCKET), '1.1.1.1');
});

test('V18: unparseable X-Forwarded-For falls back to the socket IP', () => {
  assert.equal(extractClientIp(['X-Forwarded-For: localhost'], SOCKET), SOCKET);
  assert.equal(extractClientIp([], SOCKET), SOCKET);
  assert.equal(extractClientIp(['Host: example.com', 'application/json'], SOCKET), SOCKET);
});

test('Forwarded only counts when nothing else follows it', () => {
  assert.equal(extractClientIp(['Host: a', 'Forwarded: for=2.2.2.2'], SOCKET), '2.2.2.2');
  assert.equal(extractClientIp(['Forwarded: for=2.2.2.2', 'Forwarded: for=3.3.3.3'], SOCKET), '3.3.3.3');
  assert.equal(extractClientIp(['Forwarded: for=2.2.2.2', 'Host: a'], SOCKET), SOCKET);
  assert.equal(extractClientIp(['Forwarded: for="[2001:db8::1]:4711"'], SOCKET), '2001:db8::1');
});

test('IPv6 from the header is lower-cased like upstream', () => {
  assert.equal(extractClientIp(['X-Forwarded-For: 2001:DB8::1'], SOCKET), '2001:db8::1');
});

test('firstIpToken splits on comma, pipe or space', () => {
  assert.equal(firstIpToken('1.2.3.4, 5.6.7.8'), '1.2.3.4');
  assert.equal(firstIpToken('1.2.3.4|5.6.7.8'), '1.2.3.4');
  assert.equal(firstIpToken('1.2.3.4 5.6.7.8'), '1.2.3.4');
  assert.equal(firstIpToken('1.2.3.4'), '1.2.3.4');
  assert.equal(firstIpToken(',1.2.3.4'), '');
  assert.equal(firstIpToken(''), '');
});
