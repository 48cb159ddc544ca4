import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sharedResolver } from '../../../test/helpers/enricher.js';
import {
  enrichmentConfig,
  enrichmentFile,
  pageView,
  runEnrichments,
} from '../../../test/helpers/enrichment-run.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { anonIpEnrichment, anonymizeIp, parseIpv6 } from './anon-ip.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import { EnrichmentConfigError, ORDER } from './types.js';

const config = (parameters: Record<string, unknown>) =>
  enrichmentConfig('com.snowplowanalytics.snowplow', 'anon_ip', '1-0-1', parameters);

test('V31: IPv4 octets, IPv6 segments, mapped and unparseable addresses', () => {
  assert.equal(anonymizeIp('0.23.0.20', 1, 1), '0.23.0.x');
  assert.equal(anonymizeIp('54.242.102.43', 3, 3), '54.x.x.x');
  assert.equal(anonymizeIp('94.15.213.171', 4, 4), 'x.x.x.x');
  assert.equal(anonymizeIp('4b0c::880c:99a8:4b0:4411', 2, 2), '4b0c:0:0:0:880c:99a8:x:x');
  assert.equal(anonymizeIp('::1', 3, 3), '0:0:0:0:0:x:x:x');
  assert.equal(anonymizeIp('::FFFF:152.16.24.123', 2, 2), '::FFFF:152.16.x.x');
  assert.equal(anonymizeIp('777.2.23', 4, 4), 'x.x.x');
  assert.equal(anonymizeIp('hello;goodbye', 2, 2), 'hello;goodbye');
  // §4.2 examples
  assert.equal(anonymizeIp('168.192.102.4', 2, 2), '168.192.x.x');
  assert.equal(anonymizeIp('2605:2700:0:3::4713:93e3', 2, 4), '2605:2700:0:3:x:x:x:x');
  assert.equal(anonymizeIp('999.aaa.bbb.c', 3, 3), '999.x.x.x');
  assert.equal(anonymizeIp('', 4, 4), 'x');
  // segments are independent of octets
  assert.equal(anonymizeIp('2001:DB8::1', 1, 5), '2001:db8:0:x:x:x:x:x');
  assert.equal(anonymizeIp('10.0.2.2', 1, 8), '10.0.2.x');
});

test('parseIpv6 accepts RFC 4291 text forms only', () => {
  assert.deepEqual(parseIpv6('::'), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(parseIpv6('1:2:3:4:5:6:7:8'), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(parseIpv6('::1.2.3.4'), [0, 0, 0, 0, 0, 0, 0x102, 0x304]);
  assert.deepEqual(parseIpv6('1:2:3:4:5:6:1.2.3.4'), [1, 2, 3, 4, 5, 6, 0x102, 0x304]);
  for (const bad of [
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '12345::',
    'g::1',
    '1:2:3:4:5:6:7',
    ':1',
    '1.2.3.4',
    '::1.2.3',
  ]) {
    assert.equal(parseIpv6(bad), null, bad);
  }
});

test('configuration: anonOctets is required and bounded, anonSegments defaults to it', () => {
  assert.throws(() => anonIpEnrichment.create(config({}), { resolver: null as never, baseDir: '.' }), {
    name: 'EnrichmentConfigError',
    message: /parameters\.anonOctets/,
  });
  assert.throws(
    () => anonIpEnrichment.create(config({ anonOctets: 5 }), { resolver: null as never, baseDir: '.' }),
    (e: Error) =>
      e instanceof EnrichmentConfigError && /parameters\.anonOctets: expected an integer 1–4/.test(e.message),
  );
  assert.throws(
    () =>
      anonIpEnrichment.create(config({ anonOctets: 2, anonSegments: 9 }), {
        resolver: null as never,
        baseDir: '.',
      }),
    /parameters\.anonSegments/,
  );
  const e = anonIpEnrichment.create(config({ anonOctets: 2 }), { resolver: null as never, baseDir: '.' });
  assert.ok(!(e instanceof Promise));
  assert.equal(e.order, ORDER.anonIp);
});

test('pipeline: user_ipaddress is anonymised in the TSV; other fields untouched', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const env = { resolver: sharedResolver(shared), baseDir: '.' };
  const anon = await anonIpEnrichment.create(config({ anonOctets: 2, anonSegments: 3 }), env);
  const { events, bad } = await runEnrichments(
    shared,
    [anon],
    [
      pageView('Mozilla/5.0', '54.242.102.43'),
      pageView('Mozilla/5.0', '2605:2700:0:3::4713:93e3'),
      pageView('Mozilla/5.0', '10.0.0.1', { ip: '::ffff:152.16.24.123' }),
    ],
  );
  assert.deepEqual(bad, []);
  assert.equal(events[0].user_ipaddress, '54.242.x.x');
  assert.equal(events[1].user_ipaddress, '2605:2700:0:3:0:x:x:x');
  assert.equal(events[2].user_ipaddress, '::ffff:152.16.x.x');
  assert.equal(events[0].useragent, 'Mozilla/5.0');
  assert.equal(events[0].derived_contexts, '');
});

test('pipeline: an event without an IP is left untouched', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const env = { resolver: sharedResolver(shared), baseDir: '.' };
  const anon = await anonIpEnrichment.create(config({ anonOctets: 4 }), env);
  // An empty ip parameter overrides the socket address with nothing.
  const { events, bad } = await runEnrichments(shared, [anon], [pageView(undefined, '10.0.0.1', { ip: '' })]);
  assert.deepEqual(bad, []);
  assert.equal(events[0].user_ipaddress, '');
});

test('a Snowplow anon_ip.json loads unchanged from an enrichments directory', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-anon-ip-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'anon_ip.json'),
    JSON.stringify(enrichmentFile(config({ anonOctets: 1, anonSegments: 1 }))),
  );
  const env = { resolver: sharedResolver(shared), baseDir: dir };
  const built = await buildEnrichments(await readEnrichmentDir(dir), env);
  assert.equal(built.length, 1);
  assert.equal(built[0].order, ORDER.anonIp);
  const { events } = await runEnrichments(shared, built, [pageView('Mozilla/5.0', '10.0.2.2')]);
  assert.equal(events[0].user_ipaddress, '10.0.2.x');
  // The Iglu schema rejects what the loader is given before create() sees it.
  await writeFile(join(dir, 'anon_ip.json'), JSON.stringify(enrichmentFile(config({ anonOctets: 7 }))));
  await assert.rejects(buildEnrichments(await readEnrichmentDir(dir), env), /anon_ip/);
});
