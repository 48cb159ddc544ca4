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
import { writeMmdb } from '../../../test/helpers/mmdb-writer.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { ASN_SCHEMA, ipLookupsEnrichment, stripPort } from './ip-lookups.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import { ORDER } from './types.js';

const config = (parameters: Record<string, unknown>) =>
  enrichmentConfig('com.snowplowanalytics.snowplow', 'ip_lookups', '2-0-1', parameters);

/** Real .mmdb files carrying the records of MaxMind's test databases that the spec's V32 uses. */
async function writeDatabases(dir: string): Promise<void> {
  await writeFile(
    join(dir, 'GeoIP2-City.mmdb'),
    writeMmdb('GeoIP2-City', [
      [
        '175.16.199.0/24',
        {
          city: { geoname_id: 2038180, names: { en: 'Changchun' } },
          continent: { code: 'AS', geoname_id: 6255147, names: { en: 'Asia' } },
          country: { geoname_id: 1814991, iso_code: 'CN', names: { en: 'China' } },
          location: { accuracy_radius: 100, latitude: 43.88, longitude: 125.3228, time_zone: 'Asia/Harbin' },
          registered_country: { geoname_id: 1814991, iso_code: 'CN', names: { en: 'China' } },
          subdivisions: [{ geoname_id: 2036500, iso_code: '22', names: { en: 'Jilin Sheng' } }],
        },
      ],
      [
        '2001:db8::/32',
        {
          country: { geoname_id: 2635167, iso_code: 'GB', names: { en: 'United Kingdom' } },
          city: { geoname_id: 2643743, names: { en: 'London' } },
          postal: { code: 'EC1A' },
          location: {
            accuracy_radius: 10,
            latitude: 51.5142,
            longitude: -0.0931,
            time_zone: 'Europe/London',
          },
          subdivisions: [{ geoname_id: 6269131, iso_code: 'ENG', names: { en: 'England' } }],
        },
      ],
    ]),
  );
  await writeFile(
    join(dir, 'GeoIP2-ISP.mmdb'),
    writeMmdb('GeoIP2-ISP', [
      [
        '70.46.123.0/24',
        {
          autonomous_system_number: 6389,
          autonomous_system_organization: 'BellSouth.net Inc.',
          isp: 'FDN Communications',
          organization: 'DSLAM WAN Allocation',
        },
      ],
    ]),
  );
  await writeFile(
    join(dir, 'GeoLite2-ASN.mmdb'),
    writeMmdb('GeoLite2-ASN', [
      [
        '18.0.0.0/8',
        {
          autonomous_system_number: 3,
          autonomous_system_organization: 'Massachusetts Institute of Technology',
        },
      ],
    ]),
  );
  await writeFile(
    join(dir, 'GeoIP2-Domain.mmdb'),
    writeMmdb('GeoIP2-Domain', [['1.2.0.0/16', { domain: 'maxmind.com' }]]),
  );
  await writeFile(
    join(dir, 'GeoIP2-Connection-Type.mmdb'),
    writeMmdb('GeoIP2-Connection-Type', [['1.0.128.0/17', { connection_type: 'Cable/DSL' }]]),
  );
}

function allDatabases(uri: string) {
  return {
    geo: { database: 'GeoIP2-City.mmdb', uri },
    isp: { database: 'GeoIP2-ISP.mmdb', uri },
    domain: { database: 'GeoIP2-Domain.mmdb', uri },
    connectionType: { database: 'GeoIP2-Connection-Type.mmdb', uri },
    asn: { database: 'GeoLite2-ASN.mmdb', uri },
  };
}

test('stripPort removes IPv4 and bracketed IPv6 ports only', () => {
  assert.equal(stripPort('175.16.199.0:8080'), '175.16.199.0');
  assert.equal(stripPort('[2001:db8::1]:443'), '2001:db8::1');
  assert.equal(stripPort('2001:db8::1'), '2001:db8::1');
  assert.equal(stripPort('175.16.199.0'), '175.16.199.0');
});

test('configuration errors name the key', async () => {
  const env = { resolver: null as never, baseDir: '.' };
  const make = async (p: Record<string, unknown>) => ipLookupsEnrichment.create(config(p), env);
  await assert.rejects(make({ geo: 'GeoLite2-City.mmdb' }), /parameters\.geo: expected an object/);
  await assert.rejects(make({ geo: { uri: '/x' } }), /parameters\.geo\.database/);
  await assert.rejects(make({ isp: { database: 'GeoIP2-ISP.mmdb' } }), /parameters\.isp\.uri/);
  await assert.rejects(make({ weather: {} }), /parameters\.weather/);
  await assert.rejects(
    make({ geo: { database: 'GeoLite2-City.mmdb', uri: '/nonexistent' } }),
    /GeoLite2-City\.mmdb: file not found/,
  );
});

test('V32 through the pipeline: geo, ISP, domain, netspeed fields and the ASN entity', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-ip-lookups-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeDatabases(dir);
  const e = await ipLookupsEnrichment.create(config(allDatabases(dir)), {
    resolver: sharedResolver(shared),
    baseDir: '.',
  });
  t.after(() => e.close?.());
  assert.equal(e.order, ORDER.ipLookups);
  const { events, derived, bad } = await runEnrichments(
    shared,
    [e],
    [
      pageView('Mozilla/5.0', '175.16.199.0'),
      pageView('Mozilla/5.0', '175.16.199.0:8080'),
      pageView('Mozilla/5.0', '70.46.123.145'),
      pageView('Mozilla/5.0', '18.11.120.0'),
      pageView('Mozilla/5.0', '2001:db8::1'),
      pageView('Mozilla/5.0', '1.2.3.4'),
      pageView('Mozilla/5.0', '1.0.200.1'),
      pageView('Mozilla/5.0', '10.0.0.1'),
      pageView('Mozilla/5.0', 'not-an-ip'),
    ],
  );
  assert.deepEqual(bad, []);
  for (const ev of events.slice(0, 2)) {
    assert.equal(ev.geo_country, 'CN');
    assert.equal(ev.geo_region, '22');
    assert.equal(ev.geo_city, 'Changchun');
    assert.equal(ev.geo_zipcode, '');
    assert.equal(ev.geo_latitude, '43.88');
    assert.equal(ev.geo_longitude, '125.3228');
    assert.equal(ev.geo_region_name, 'Jilin Sheng');
    assert.equal(ev.geo_timezone, 'Asia/Harbin');
    assert.equal(ev.ip_isp, '');
  }
  assert.equal(events[1].user_ipaddress, '175.16.199.0:8080');
  assert.equal(events[2].ip_isp, 'FDN Communications');
  assert.equal(events[2].ip_organization, 'DSLAM WAN Allocation');
  assert.equal(events[2].geo_country, '');
  // The ISP database's AS fields stand in when the ASN database has no answer.
  assert.deepEqual(derived[2], [
    { schema: ASN_SCHEMA, data: { number: 6389, organization: 'BellSouth.net Inc.' } },
  ]);
  assert.deepEqual(derived[3], [
    { schema: ASN_SCHEMA, data: { number: 3, organization: 'Massachusetts Institute of Technology' } },
  ]);
  assert.equal(events[4].geo_country, 'GB');
  assert.equal(events[4].geo_zipcode, 'EC1A');
  assert.equal(events[4].geo_longitude, '-0.0931');
  assert.equal(events[5].ip_domain, 'maxmind.com');
  assert.equal(events[6].ip_netspeed, 'Cable/DSL');
  // Unknown and malformed addresses are not failures: the event goes through unchanged.
  for (const ev of events.slice(7)) {
    assert.equal(ev.geo_country, '');
    assert.equal(ev.derived_contexts, '');
  }
  assert.deepEqual(derived[0], []);
});

test('an unchanged Snowplow ip_lookups.json loads; a corrupt database fails start naming the file', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-ip-lookups-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeDatabases(dir);
  const cfg = config({
    geo: { database: 'GeoIP2-City.mmdb', uri: `file://${dir}` },
    asn: { database: 'GeoLite2-ASN.mmdb', uri: `file://${dir}` },
  });
  await writeFile(join(dir, 'ip_lookups.json'), JSON.stringify(enrichmentFile(cfg)));
  const env = { resolver: sharedResolver(shared), baseDir: dir };
  const built = await buildEnrichments(await readEnrichmentDir(dir), env);
  t.after(() => built[0].close?.());
  const { events, derived } = await runEnrichments(shared, built, [
    pageView(undefined, '18.11.120.0'),
    pageView(undefined, '175.16.199.0'),
  ]);
  assert.equal(derived[0][0].schema, ASN_SCHEMA);
  assert.equal(events[1].geo_city, 'Changchun');
  await writeFile(join(dir, 'GeoLite2-ASN.mmdb'), 'not a database');
  await assert.rejects(
    buildEnrichments(await readEnrichmentDir(dir), env),
    /GeoLite2-ASN\.mmdb: not a valid/,
  );
});
