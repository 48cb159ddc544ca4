/**
 * The collector over real HTTP, against the conformance checklist of spec collector §6 (items 1–42):
 * routes, responses, CORS, cookies, redirects, size limits and the stored Thrift records.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { defaultCollectorConfig } from '../src/collector/config.js';
import {
  type CollectorSink,
  createCollectorHandler,
  PIXEL,
  type RawBatch,
} from '../src/collector/handler.js';
import { decodeCollectorPayload } from '../src/protocol/collector-payload.js';
import { createHttpServer, listen } from '../src/runtime/http-server.js';
import { createMetrics } from '../src/runtime/metrics.js';

class RecordingSink implements CollectorSink {
  batches: RawBatch[] = [];
  bad: string[] = [];
  fail = false;
  async storeRaw(batch: RawBatch): Promise<void> {
    if (this.fail) throw new Error('disk full');
    this.batches.push(batch);
  }
  async storeBad(rows: string[]): Promise<void> {
    this.bad.push(...rows);
  }
  /** The records as enrich will read them: decoded from the stored Thrift bytes. */
  stored() {
    return this.batches.flatMap((b) => b.records.map((r) => decodeCollectorPayload(r)));
  }
  clear() {
    this.batches = [];
    this.bad = [];
  }
}

async function start(overrides: Parameters<typeof defaultCollectorConfig>[0] = {}) {
  const sink = new RecordingSink();
  const metrics = createMetrics({ defaults: false });
  const config = defaultCollectorConfig({ name: 'furrow-test', ...overrides });
  const server: Server = createHttpServer({
    metrics,
    ready: () => true,
    collector: createCollectorHandler({ config, sink }),
    fastHttp: config.networking.fastHttp,
  });
  await listen(server, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { sink, server, base, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('collector with default configuration', () => {
  let c: Awaited<ReturnType<typeof start>>;
  before(async () => {
    c = await start();
  });
  after(() => c.close());

  test('1, 5, 35, 36: GET /i answers the 43-byte pixel and stores a Thrift record', async () => {
    c.sink.clear();
    const before = Date.now();
    const res = await fetch(`${c.base}/i?e=pv&p=web&tv=js-4.10.1&url=https%3A%2F%2Fa.b%2Fc%20d`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/gif');
    assert.equal(res.headers.get('cache-control'), 'no-cache, no-store, must-revalidate');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PIXEL);
    assert.equal(PIXEL.length, 43);
    const [p] = c.sink.stored();
    assert.equal(p.schema, 'iglu:com.snowplowanalytics.snowplow/CollectorPayload/thrift/1-0-0');
    assert.equal(p.path, '/i');
    assert.equal(p.encoding, 'UTF-8');
    assert.equal(p.collector, 'furrow-test');
    assert.equal(p.querystring, 'e=pv&p=web&tv=js-4.10.1&url=https%3A%2F%2Fa.b%2Fc%20d', 'raw, undecoded');
    assert.ok(p.timestamp >= before && p.timestamp <= Date.now());
    assert.equal(p.body, undefined);
    assert.equal(p.hostname, '127.0.0.1');
  });

  test('2, 3, 4: /ice.png, HEAD and GET on tp2 behave like /i', async () => {
    c.sink.clear();
    const ice = await fetch(`${c.base}/ice.png?e=pv`);
    assert.equal(ice.status, 200);
    assert.equal(ice.headers.get('content-type'), 'image/gif');
    const head = await fetch(`${c.base}/i?e=pv`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'image/gif');
    const tp2 = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2?e=pv`);
    assert.equal(tp2.status, 200);
    assert.equal(tp2.headers.get('content-type'), 'image/gif');
    assert.deepEqual(
      c.sink.stored().map((p) => p.path),
      ['/ice.png', '/i', '/com.snowplowanalytics.snowplow/tp2'],
    );
  });

  test('6, 7, 8, 37, 38: POSTs answer ok and keep body, content type and headers', async () => {
    c.sink.clear();
    const body =
      '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv"}]}';
    const res = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json; charset=UTF-8',
        Cookie: 'a=b; c=d; bad=x y',
        'X-Custom': 'v',
      },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain');
    assert.equal(res.headers.get('cache-control'), null, 'POST responses are not marked no-cache');
    assert.equal(await res.text(), 'ok');
    const junk = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      body: 'not json',
    });
    assert.equal(await junk.text(), 'ok');
    const vendor = await fetch(`${c.base}/com.acme/v9`, { method: 'POST', body: 'x' });
    assert.equal(vendor.status, 200);
    const [p, j, v] = c.sink.stored();
    assert.equal(p.body, body);
    assert.equal(p.contentType, 'application/json; charset=utf-8');
    assert.ok(p.headers?.includes('Cookie: a=b;c=d'), `normalised cookie in ${p.headers}`);
    assert.ok(p.headers?.includes('X-Custom: v'));
    assert.equal(p.headers?.at(-1), 'application/json; charset=UTF-8', 'raw content type last');
    assert.equal(j.body, 'not json');
    assert.equal(v.path, '/com.acme/v9');
  });

  test('a POST body that is not valid UTF-8 is stored decoded, with replacement characters', async () => {
    c.sink.clear();
    const raw = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xc3]), Buffer.from('é"}')]);
    const res = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2`, { method: 'POST', body: raw });
    assert.equal(res.status, 200);
    assert.equal(c.sink.stored()[0].body, raw.toString('utf8'));
    assert.ok(c.sink.stored()[0].body?.includes('\uFFFD'));
  });

  test('9, 10, 16, 17, 18: other routes', async () => {
    assert.equal((await fetch(`${c.base}/i`, { method: 'POST', body: 'x' })).status, 404);
    assert.equal((await fetch(`${c.base}/a/b/c`)).status, 404);
    const redirect = await fetch(`${c.base}/r/tp2?u=https%3A%2F%2Fexample.com`, { redirect: 'manual' });
    assert.equal(redirect.status, 404);
    assert.equal(await redirect.text(), 'redirects disabled');
    const robots = await fetch(`${c.base}/robots.txt`);
    assert.equal(robots.status, 200);
    const text = await robots.text();
    for (const agent of ['*', 'Googlebot', 'AdsBot-Google'])
      assert.ok(text.includes(`User-agent: ${agent}\nDisallow: /`));
    assert.equal((await fetch(`${c.base}/crossdomain.xml`)).status, 404);
    assert.equal((await fetch(`${c.base}/`)).status, 404);
  });

  test('15: health answers', async () => {
    const h = await fetch(`${c.base}/health`);
    assert.equal(h.status, 200);
    assert.equal(await h.text(), 'ok');
    assert.equal((await fetch(`${c.base}/health/live`)).status, 200);
    assert.equal((await fetch(`${c.base}/health/ready`)).status, 200);
  });

  test('19: a body over 2 MiB is refused with 413 and nothing is stored', async () => {
    c.sink.clear();
    const res = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      body: 'x'.repeat(2_097_153),
    }).catch(() => undefined);
    if (res !== undefined) assert.equal(res.status, 413);
    assert.equal(c.sink.stored().length, 0);
  });

  test('20–23: CORS', async () => {
    const pre = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://shop.example' },
    });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.equal(pre.headers.get('access-control-allow-credentials'), 'true');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'Content-Type, SP-Anonymous');
    assert.equal(pre.headers.get('access-control-max-age'), '3600');
    assert.equal((await fetch(`${c.base}/whatever/else/here`, { method: 'OPTIONS' })).status, 200);
    const post = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2`, {
      method: 'POST',
      headers: { Origin: 'http://localhost:8000' },
      body: '{}',
    });
    assert.equal(post.headers.get('access-control-allow-origin'), 'http://localhost:8000');
    assert.equal(post.headers.get('access-control-allow-credentials'), 'true');
    const none = await fetch(`${c.base}/i?e=pv`);
    assert.equal(none.headers.get('access-control-allow-origin'), '*');
  });

  test('24–26: the sp cookie is set, reused and overridden by nuid', async () => {
    c.sink.clear();
    const first = await fetch(`${c.base}/i?e=pv`);
    const set = first.headers.get('set-cookie') ?? '';
    const m = /^sp=([^;]+); Expires=([^;]+); Path=\/; SameSite=None; Secure; HttpOnly$/.exec(set);
    assert.ok(m, `cookie rendered as Snowplow does: ${set}`);
    assert.match(m[1], UUID_V4);
    const expires = Date.parse(m[2]);
    assert.ok(Math.abs(expires - (Date.now() + 365 * 86_400_000)) < 60_000, 'expires in 365 days');
    const known = 'd7e7f2f8-1c2b-4a3d-9e4f-5a6b7c8d9e0f';
    const second = await fetch(`${c.base}/i?e=pv`, { headers: { Cookie: `sp=${known}` } });
    assert.match(second.headers.get('set-cookie') ?? '', new RegExp(`^sp=${known};`));
    const nuid = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    await fetch(`${c.base}/i?e=pv&nuid=${nuid}`, { headers: { Cookie: `sp=${known}` } });
    assert.deepEqual(
      c.sink.stored().map((p) => p.networkUserId),
      [m[1], known, nuid],
    );
  });

  test('30, 31: SP-Anonymous zeroes identity and strips identifying headers', async () => {
    c.sink.clear();
    const anon = await fetch(`${c.base}/i?e=pv`, {
      headers: { 'SP-Anonymous': '*', 'X-Forwarded-For': '1.2.3.4' },
    });
    assert.equal(anon.headers.get('set-cookie'), null);
    const withCookie = await fetch(`${c.base}/i?e=pv`, {
      headers: { 'SP-Anonymous': '*', Cookie: 'sp=d7e7f2f8-1c2b-4a3d-9e4f-5a6b7c8d9e0f' },
    });
    const cleared = withCookie.headers.get('set-cookie') ?? '';
    assert.match(cleared, /^sp=; Expires=/);
    assert.ok(Date.parse(/Expires=([^;]+)/.exec(cleared)?.[1] ?? '') < Date.now(), 'expiry in the past');
    const [p, q] = c.sink.stored();
    assert.equal(p.networkUserId, '00000000-0000-0000-0000-000000000000');
    assert.equal(p.ipAddress, 'unknown');
    assert.ok(!p.headers?.some((h) => /^(x-forwarded-for|cookie):/i.test(h)));
    assert.ok(p.headers?.some((h) => /^sp-anonymous:/i.test(h)));
    assert.ok(!q.headers?.some((h) => /^cookie:/i.test(h)));
  });

  test('39: the client IP is the first X-Forwarded-For entry, else the peer', async () => {
    c.sink.clear();
    await fetch(`${c.base}/i?e=pv`, { headers: { 'X-Forwarded-For': '203.0.113.9, 10.0.0.1' } });
    await fetch(`${c.base}/i?e=pv`);
    assert.deepEqual(
      c.sink.stored().map((p) => p.ipAddress),
      ['203.0.113.9', '127.0.0.1'],
    );
  });

  test('42: records of different requests get different partition keys', async () => {
    c.sink.clear();
    await fetch(`${c.base}/i?e=pv`);
    await fetch(`${c.base}/i?e=pv`);
    assert.notEqual(c.sink.batches[0].key, c.sink.batches[1].key);
  });

  test('a sink that cannot persist makes the collector answer 503, never 200', async () => {
    c.sink.clear();
    c.sink.fail = true;
    try {
      const res = await fetch(`${c.base}/i?e=pv`);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '1');
      const post = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2`, {
        method: 'POST',
        body: '{}',
      });
      assert.equal(post.status, 503);
    } finally {
      c.sink.fail = false;
    }
  });
});

describe('collector options', () => {
  test('11–13: redirects when enabled', async () => {
    const c = await start({ enableDefaultRedirect: true, redirectDomains: ['example.com'] });
    try {
      const ok = await fetch(`${c.base}/r/tp2?u=https%3A%2F%2Fexample.com%2Fx`, { redirect: 'manual' });
      assert.equal(ok.status, 302);
      assert.equal(ok.headers.get('location'), 'https://example.com/x');
      const missing = await fetch(`${c.base}/r/tp2`, { redirect: 'manual' });
      assert.equal(missing.status, 400);
      const other = await fetch(`${c.base}/r/tp2?u=https%3A%2F%2Fb.com%2F`, { redirect: 'manual' });
      assert.equal(other.status, 400);
      assert.equal(c.sink.stored().length, 3, 'every redirect request is still stored');
    } finally {
      await c.close();
    }
  });

  test('14: custom path mappings store the mapped path', async () => {
    const c = await start({ paths: { '/acme/track': '/com.snowplowanalytics.snowplow/tp2' } });
    try {
      await fetch(`${c.base}/acme/track`, { method: 'POST', body: '{}' });
      assert.equal(c.sink.stored()[0].path, '/com.snowplowanalytics.snowplow/tp2');
    } finally {
      await c.close();
    }
  });

  test('17, 18: cross-domain policy and root response when enabled', async () => {
    const c = await start({
      crossDomain: { enabled: true, domains: ['a.com', '*.b.com'], secure: false },
      rootResponse: { enabled: true, statusCode: 200, headers: { 'X-Root': '1' }, body: 'hello' },
    });
    try {
      const xml = await fetch(`${c.base}/crossdomain.xml`);
      assert.equal(xml.headers.get('content-type'), 'text/xml');
      const text = await xml.text();
      assert.ok(text.startsWith('<?xml'));
      assert.equal(text.match(/<allow-access-from /g)?.length, 2);
      assert.ok(text.includes('<allow-access-from domain="a.com" secure="false" />'));
      const root = await fetch(`${c.base}/`);
      assert.equal(root.status, 200);
      assert.equal(root.headers.get('x-root'), '1');
      assert.equal(await root.text(), 'hello');
    } finally {
      await c.close();
    }
  });

  test('27–29, 32: cookie domain, Secure with SameSite=None, client cookie, disabled cookie', async () => {
    const c = await start({
      cookie: {
        domains: ['foo.bar'],
        fallbackDomain: 'fb.com',
        secure: false,
        sameSite: 'None',
        clientCookieName: 'sp_client',
      },
    });
    try {
      const sub = await fetch(`${c.base}/i?e=pv`, { headers: { Origin: 'http://sub.foo.bar' } });
      const cookies = sub.headers.getSetCookie();
      assert.equal(cookies.length, 2);
      assert.match(cookies[0], /; Domain=foo\.bar; Path=\/; SameSite=None; Secure; HttpOnly$/);
      assert.match(cookies[1], /^sp_client=/);
      assert.ok(!cookies[1].includes('HttpOnly'));
      assert.equal(cookies[0].split(';')[0].split('=')[1], cookies[1].split(';')[0].split('=')[1]);
      const other = await fetch(`${c.base}/i?e=pv`, { headers: { Origin: 'http://else.com' } });
      assert.match(other.headers.getSetCookie()[0], /; Domain=fb\.com;/);
    } finally {
      await c.close();
    }
    const off = await start({ cookie: { enabled: false } });
    try {
      const res = await fetch(`${off.base}/i?e=pv`);
      assert.equal(res.headers.get('set-cookie'), null);
      assert.equal(off.sink.stored().length, 1);
    } finally {
      await off.close();
    }
  });

  test('33: the do-not-track cookie stops storage', async () => {
    const c = await start({ doNotTrackCookie: { enabled: true, name: 'dnt', value: 'yes|1' } });
    try {
      const res = await fetch(`${c.base}/i?e=pv`, { headers: { Cookie: 'dnt=yes' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('set-cookie'), null);
      await fetch(`${c.base}/i?e=pv`, { headers: { Cookie: 'dnt=no' } });
      assert.equal(c.sink.stored().length, 1);
    } finally {
      await c.close();
    }
  });

  test('34: cookie bounce', async () => {
    const c = await start({ cookieBounce: { enabled: true } });
    try {
      const first = await fetch(`${c.base}/i?e=pv`, { redirect: 'manual' });
      assert.equal(first.status, 302);
      assert.equal(first.headers.get('location'), '/i?e=pv&n3pc=true');
      assert.ok(first.headers.get('set-cookie'));
      assert.equal(c.sink.stored().length, 0);
      await fetch(`${c.base}/i?e=pv&n3pc=true`, { redirect: 'manual' });
      assert.equal(c.sink.stored()[0].networkUserId, '00000000-0000-4000-A000-000000000000');
    } finally {
      await c.close();
    }
  });

  test('40, 41: large POSTs are split; oversized payloads become size_violation bad rows', async () => {
    const c = await start({ networking: { maxBytes: 3000, maxPayloadSize: 20_000 } });
    try {
      const events = Array.from({ length: 20 }, (_, i) => ({
        e: 'pv',
        p: 'web',
        tv: 'js',
        aid: `app-${i}`,
        page: 'x'.repeat(200),
      }));
      const body = JSON.stringify({
        schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4',
        data: events,
      });
      const res = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2`, { method: 'POST', body });
      assert.equal(res.status, 200);
      const parts = c.sink.stored();
      assert.ok(parts.length > 1, 'split into several records');
      assert.equal(new Set(c.sink.batches.map((b) => b.key)).size, 1, 'one partition key for the request');
      const rejoined = parts.flatMap((p) => JSON.parse(p.body ?? '').data);
      assert.deepEqual(rejoined, events);
      for (const b of c.sink.batches[0].records) assert.ok(b.length < 3000);
      c.sink.clear();
      const huge = await fetch(`${c.base}/com.snowplowanalytics.snowplow/tp2`, {
        method: 'POST',
        body: 'y'.repeat(30_000),
      });
      assert.equal(huge.status, 200);
      assert.equal(c.sink.stored().length, 0);
      assert.equal(c.sink.bad.length, 1);
      const row = JSON.parse(c.sink.bad[0]);
      assert.equal(row.schema, 'iglu:com.snowplowanalytics.snowplow.badrows/size_violation/jsonschema/1-0-0');
      assert.equal(row.data.failure.maximumAllowedSizeBytes, 20_000);
      assert.match(row.data.failure.expectation, /^oversized collector payload: /);
    } finally {
      await c.close();
    }
  });
});

describe('the fast HTTP reader and node:http store and answer alike', () => {
  test('same records, statuses and headers for GET, HEAD, POST, OPTIONS, redirects and odd requests', async () => {
    const fast = await start({ enableDefaultRedirect: true });
    const node = await start({ enableDefaultRedirect: true, networking: { fastHttp: false } });
    try {
      const cookie = 'sp=6f1a52c4-5b7e-4bb5-a2cd-4d1f1bb0d6a1; _sp_id.1fff=abc.1.2; bad=x y';
      const requests: Array<[string, RequestInit]> = [
        ['/i?e=pv&url=https%3A%2F%2Fa.b%2Fc%20d', { headers: { Cookie: cookie, 'User-Agent': 'UA/1' } }],
        ['/ice.png?e=pv', { method: 'HEAD', headers: { 'X-Forwarded-For': '203.0.113.9, 10.0.0.1' } }],
        [
          '/com.snowplowanalytics.snowplow/tp2',
          {
            method: 'POST',
            headers: {
              'Content-Type': 'application/json; charset=UTF-8',
              Cookie: cookie,
              Origin: 'https://shop.example',
            },
            body: '{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{"e":"pv","p":"é"}]}',
          },
        ],
        ['/com.snowplowanalytics.snowplow/tp2', { method: 'POST', body: Buffer.from([0xff, 0xfe, 0x41]) }],
        [
          '/com.snowplowanalytics.snowplow/tp2',
          { method: 'OPTIONS', headers: { Origin: 'https://x.example' } },
        ],
        ['/r/tp2?u=https%3A%2F%2Fexample.com%2Fp&e=pv', { redirect: 'manual' }],
        ['/r/tp2?u=https%3A%2F%2Fexample.com%2F%0D%0AX-Injected%3A%201', { redirect: 'manual' }],
        ['/acme/v1?e=pv', { headers: { 'SP-Anonymous': '*' } }],
        // an ASCII head whose network user id decodes to non-ASCII text
        ['/i?e=pv&nuid=%C3%A9t%C3%A9', { headers: { Cookie: cookie } }],
        // bytes past ASCII in the head (sent as they are, one byte a character)
        ['/i?e=pv', { headers: { Referer: 'https://x.example/caf\u00e9', 'User-Agent': 'UA \u00ff' } }],
        ['/robots.txt', {}],
        ['/nothing/here/at/all', {}],
        ['/health/live', {}],
        ['/health/ready', { method: 'HEAD' }],
        ['/health', { method: 'POST', body: 'x' }],
      ];
      const comparable = (h: Headers) =>
        [...h.entries()]
          .filter(
            ([k]) => !['date', 'transfer-encoding', 'content-length', 'keep-alive', 'connection'].includes(k),
          )
          .map(([k, v]) => [
            k,
            k === 'set-cookie'
              ? v.replace(/Expires=[^;]+/g, 'Expires=…').replace(/sp=(?!6f1a52c4)[0-9a-f-]{36}/g, 'sp=<new>')
              : v,
          ]);
      for (const [path, init] of requests) {
        const [a, b] = await Promise.all([
          fetch(`${fast.base}${path}`, init),
          fetch(`${node.base}${path}`, init),
        ]);
        const what = `${init.method ?? 'GET'} ${path}`;
        assert.equal(a.status, b.status, what);
        assert.deepEqual(comparable(a.headers), comparable(b.headers), what);
        assert.deepEqual(Buffer.from(await a.arrayBuffer()), Buffer.from(await b.arrayBuffer()), what);
        if (path === '/nothing/here/at/all') {
          // the one framing difference allowed, and the proof that each server used its own reader
          assert.equal(a.headers.get('content-length'), '9', 'the fast reader frames by length');
          assert.equal(
            b.headers.get('transfer-encoding'),
            'chunked',
            'node:http chunks a body without length',
          );
        }
      }
      const strip = (p: ReturnType<RecordingSink['stored']>[number]) => {
        const { timestamp: _t, networkUserId, headers, ...rest } = p;
        // the servers' ports differ, and a new network user id is random on each; a given one must match
        return {
          ...rest,
          headers: headers?.map((h) => h.replace(/^host: 127\.0\.0\.1:\d+$/, 'host: <server>')),
          nuid:
            /^[0-9a-f-]{36}$/.test(networkUserId ?? '') && !networkUserId?.startsWith('6f1a52c4')
              ? 'new'
              : networkUserId,
        };
      };
      assert.deepEqual(fast.sink.stored().map(strip), node.sink.stored().map(strip));
      const stored = fast.sink.stored();
      assert.ok(
        stored.some((p) => p.networkUserId === 'été'),
        'a decoded nuid is stored as text',
      );
      assert.ok(
        stored.some((p) => p.refererUri === 'https://x.example/caf\u00e9' && p.userAgent === 'UA \u00ff'),
      );
      assert.ok(fast.sink.stored().length >= 5);
    } finally {
      await fast.close();
      await node.close();
    }
  });
});
