/**
 * `furrow enrich` offline, as a user calls it: readable requests, base64 lines and raw Thrift from a file
 * or standard input; enriched TSV on stdout, bad rows on stderr; clear errors for unusable input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sdk from 'snowplow-analytics-sdk';
import { COLLECTOR_PAYLOAD_SCHEMA, encodeCollectorPayload } from '../src/protocol/collector-payload.js';
import { requireShared } from './helpers/shared.js';

const BIN = join(process.cwd(), 'bin', 'furrow.js');

function furrow(args: string[], input?: string | Buffer) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: input ?? '', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

function resolverFile(shared: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'furrow-cli-'));
  const file = join(dir, 'resolver.json');
  writeFileSync(
    file,
    JSON.stringify({
      schema: 'iglu:com.snowplowanalytics.iglu/resolver-config/jsonschema/1-0-1',
      data: {
        cacheSize: 500,
        repositories: [
          {
            name: 'mirror',
            priority: 0,
            vendorPrefixes: [],
            connection: { embedded: { path: join(shared, 'iglu-central') } },
          },
        ],
      },
    }),
  );
  return file;
}

const REQUESTS = `# two tracker requests in the readable form
GET /i?e=pv&p=web&tv=js-4.10.1&aid=cli&url=https%3A%2F%2Fshop.example%2Fa%3Fb%3D1&page=Shop
User-Agent: Mozilla/5.0 (X11; Linux x86_64)
X-Forwarded-For: 203.0.113.9
---
POST /com.snowplowanalytics.snowplow/tp2
Content-Type: application/json

{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"se","p":"srv","tv":"node-4","se_ca":"c","se_ac":"a"},{"e":"se","p":"srv","tv":"node-4","dtm":"nope"}]}
`;

test('furrow enrich reads readable requests from a file and stdin', async (t) => {
  const shared = requireShared(t);
  if (shared === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'furrow-cli-'));
  const input = join(dir, 'requests.txt');
  writeFileSync(input, REQUESTS);
  const resolver = resolverFile(shared);
  for (const run of [
    furrow(['enrich', '--resolver', resolver, input]),
    furrow(['enrich', '--resolver', resolver, '-'], REQUESTS),
  ]) {
    assert.equal(run.code, 0, run.stderr);
    const good = run.stdout.split('\n').filter((l) => l !== '');
    assert.equal(good.length, 2);
    const [pv, se] = good.map((l) => sdk.transform(l) as Record<string, any>);
    assert.equal(pv.event, 'page_view');
    assert.equal(pv.app_id, 'cli');
    assert.equal(pv.user_ipaddress, '203.0.113.9');
    assert.equal(pv.page_urlhost, 'shop.example');
    assert.equal(pv.useragent, 'Mozilla/5.0 (X11; Linux x86_64)');
    assert.equal(se.se_category, 'c');
    const bad = run.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    assert.equal(bad.length, 1);
    assert.equal(
      JSON.parse(bad[0]).schema,
      'iglu:com.snowplowanalytics.snowplow.badrows/schema_violations/jsonschema/2-0-1',
    );
    assert.match(run.stderr, /2 record\(s\) read as request: 2 enriched, 1 bad row\(s\)/);
  }
});

test('furrow enrich reads base64 and Thrift records and writes to files', async (t) => {
  const shared = requireShared(t);
  if (shared === undefined) return;
  const dir = mkdtempSync(join(tmpdir(), 'furrow-cli-'));
  const record = encodeCollectorPayload({
    schema: COLLECTOR_PAYLOAD_SCHEMA,
    ipAddress: '10.1.1.1',
    timestamp: Date.UTC(2025, 0, 2, 3, 4, 5, 6),
    encoding: 'UTF-8',
    collector: 'ssc-3.4.0-kafka',
    path: '/i',
    querystring: 'e=pv&p=web&tv=js&aid=b64',
  });
  const lines = `${record.toString('base64')}\n${record.toString('base64url')}\nbm90IHRocmlmdA\n`;
  const resolver = resolverFile(shared);
  const goodFile = join(dir, 'good.tsv');
  const badFile = join(dir, 'bad.jsonl');
  const b64 = furrow(['enrich', '--resolver', resolver, '-o', goodFile, '-b', badFile, '-'], lines);
  assert.equal(b64.code, 0, b64.stderr);
  const { readFileSync } = await import('node:fs');
  const good = readFileSync(goodFile, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  assert.equal(good.length, 2);
  assert.equal(good[0].split('\t')[3], '2025-01-02 03:04:05.006');
  const bad = readFileSync(badFile, 'utf8').trim().split('\n');
  assert.equal(bad.length, 1);
  assert.match(bad[0], /collector_payload_format_violation/);
  const thriftFile = join(dir, 'record.thrift');
  writeFileSync(thriftFile, record);
  const thrift = furrow(['enrich', '--resolver', resolver, '--format', 'thrift', thriftFile]);
  assert.equal(thrift.code, 0, thrift.stderr);
  assert.equal(thrift.stdout.split('\n').filter((l) => l !== '').length, 1);
});

test('furrow enrich explains unusable input and usage', () => {
  const missing = furrow(['enrich', '/nonexistent/input.txt']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /input file not found: \/nonexistent\/input.txt/);
  const badRequest = furrow(['enrich', '--format', 'request', '-'], 'FETCH /i?e=pv\n');
  assert.equal(badRequest.code, 1);
  assert.match(badRequest.stderr, /line 1: expected a request line/);
  const badFormat = furrow(['enrich', '--format', 'xml', '-'], '');
  assert.equal(badFormat.code, 2);
  assert.match(badFormat.stderr, /--format must be one of/);
  const help = furrow(['enrich', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: furrow enrich/);
  const top = furrow(['--help']);
  for (const cmd of ['up', 'micro', 'enrich', 'collector', 'load'])
    assert.match(top.stdout, new RegExp(`\\n  ${cmd} `));
  const unknown = furrow(['frobnicate']);
  assert.equal(unknown.code, 2);
});
