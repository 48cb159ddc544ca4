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
  type RunResult,
  runEnrichments,
} from '../../../test/helpers/enrichment-run.js';
import { requireShared } from '../../../test/helpers/shared.js';
import { F } from '../../protocol/enriched-fields.js';
import type { RawEvent } from '../../protocol/raw-event.js';
import { EnrichedEvent, type SelfDescribingJson } from '../event.js';
import { createJavascriptEnrichment, javascriptEnrichment, javascriptReplacement } from './javascript.js';
import { buildEnrichments, readEnrichmentDir } from './load.js';
import { DROP, type Enrichment, type EnrichmentConfig, EnrichmentConfigError, ORDER } from './types.js';

const SCHEMA_KEY = 'iglu:com.snowplowanalytics.snowplow/javascript_script_config/jsonschema/1-0-0';
const COOKIE = 'iglu:org.ietf/http_cookie/jsonschema/1-0-0';
const HEADER = 'iglu:org.ietf/http_header/jsonschema/1-0-0';
const env = { resolver: null as never, baseDir: '.' };
/** `create` as a promise, for `assert.rejects`. */
const create = async (c: EnrichmentConfig) => javascriptEnrichment.create(c, env);

function config(script: string, extra: Record<string, unknown> = {}) {
  return enrichmentConfig('com.snowplowanalytics.snowplow', 'javascript_script_config', '1-0-0', {
    script: Buffer.from(script, 'utf8').toString('base64'),
    ...extra,
  });
}

function rawEvent(headers: string[] = []): RawEvent {
  return {
    vendor: 'com.snowplowanalytics.snowplow',
    version: 'tp2',
    parameters: new Map(),
    contentType: null,
    loaderName: 'ssc-3.4.0-kafka',
    encoding: 'UTF-8',
    hostname: null,
    timestamp: Date.UTC(2025, 0, 1),
    ipAddress: null,
    useragent: null,
    refererUri: null,
    headers,
    userId: null,
  };
}

/** Stands in for http_header_extractor with pattern `.*` (spec V39): one entity per raw header. */
const headerEntities: Enrichment = {
  order: ORDER.httpHeaderExtractor,
  info: null,
  enrich(ev) {
    const entities = ev.raw.headers.map((h): SelfDescribingJson => {
      const i = h.indexOf(':');
      return { schema: HEADER, data: { name: h.slice(0, i), value: h.slice(i + 1).trim() } };
    });
    ev.derived = entities.concat(ev.derived);
    return undefined;
  },
};

const failureMessages = (bad: RunResult['bad']) =>
  bad.flatMap((b) => b.data.failure.messages) as Array<{ enrichment: unknown; message: { error: string } }>;

test('V39: derived contexts so far are visible to the script; its result is prepended', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const js = await javascriptEnrichment.create(
    config(`
      function process(event) {
        var value = JSON.parse(event.getDerived_contexts()).data[0].data.value;
        event.setApp_id(value);
        return [{ schema: "${COOKIE}", data: { name: "seen", value: value } }];
      }`),
    env,
  );
  assert.equal(js.order, ORDER.javascript);
  assert.deepEqual(js.info, { schemaKey: SCHEMA_KEY, identifier: 'Javascript enrichment' });
  const { events, derived, bad } = await runEnrichments(
    shared,
    [js, headerEntities],
    [pageView('Mozilla/5.0', '10.0.0.1', {}, { headers: ['X-Tract-Me: moo'] })],
  );
  assert.deepEqual(bad, []);
  assert.equal(events[0].app_id, 'moo');
  assert.deepEqual(derived[0], [
    { schema: COOKIE, data: { name: 'seen', value: 'moo' } },
    { schema: HEADER, data: { name: 'X-Tract-Me', value: 'moo' } },
  ]);
});

test('getters return Snowplow types, setters and bean properties write the TSV (sanitised)', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const js = await javascriptEnrichment.create(
    config(
      `
      function process(event, params, headers) {
        var seen = [typeof event.getDomain_sessionidx(), event.getDomain_sessionidx(), event.getBr_features_pdf(),
                    event.getUser_ipaddress(), event.getApp_id(), event.getTxn_id(), event.platform,
                    event.getCollector_tstamp(), event.getUnstruct_event(), params.prefix, headers.join("|")];
        event.setUser_ipaddress("1.2.3.4");
        event.user_id = params.prefix + "bob";
        event.setPage_title("tab\\there");
        event.setDomain_sessionidx(7.9);
        event.setBr_features_flash(true);
        event.setTxn_id(null);
        return [{ schema: "${COOKIE}", data: { name: "seen", value: JSON.stringify(seen) } }];
      }`,
      { config: { prefix: 'u-' } },
    ),
    env,
  );
  const { events, derived, bad } = await runEnrichments(
    shared,
    [js],
    [
      pageView(
        'Mozilla/5.0',
        '10.0.0.9',
        { vid: '3', f_pdf: '1', aid: 'shop', tid: '42' },
        { headers: ['Host: a', 'X-A: b'] },
      ),
    ],
  );
  assert.deepEqual(bad, []);
  const e = events[0];
  assert.deepEqual(JSON.parse(derived[0][0].data.value as string), [
    'number',
    3,
    1,
    '10.0.0.9',
    'shop',
    42,
    'web',
    '2025-01-15 12:00:00.000',
    null,
    'u-',
    'Host: a|X-A: b',
  ]);
  assert.equal(e.user_ipaddress, '1.2.3.4');
  assert.equal(e.user_id, 'u-bob');
  assert.equal(e.page_title, 'tab    here');
  assert.equal(e.domain_sessionidx, '7');
  assert.equal(e.br_features_flash, '1');
  assert.equal(e.txn_id, '');
});

test('an event the script does not touch comes out as it would without the enrichment', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const js = await javascriptEnrichment.create(config('function process(event) { return []; }'), env);
  const payload = pageView('Mozilla/5.0', '10.0.0.1', { aid: 'a', url: 'https://x.test/p?q=1' });
  const withJs = await runEnrichments(shared, [js], [payload]);
  const without = await runEnrichments(shared, [], [payload]);
  assert.deepEqual(withJs.bad, []);
  const { event_id: _a, ...a } = withJs.events[0];
  const { event_id: _b, ...b } = without.events[0];
  assert.deepEqual(a, b);
});

test('setContexts / setUnstruct_event replace the tracker JSON and are recorded for re-validation', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const replacement = JSON.stringify({
    schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
    data: [{ schema: COOKIE, data: { name: 'new', value: '1' } }],
  });
  const js = await javascriptEnrichment.create(
    config(
      `function process(event) { event.setContexts(${JSON.stringify(replacement)}); event.setUnstruct_event(null); }`,
    ),
    env,
  );
  const co = JSON.stringify({
    schema: 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1',
    data: [{ schema: COOKIE, data: { name: 'old', value: '0' } }],
  });
  const { events, bad } = await runEnrichments(shared, [js], [pageView('UA', '10.0.0.1', { co })]);
  assert.deepEqual(bad, []);
  assert.deepEqual(JSON.parse(events[0].contexts).data, [
    { schema: COOKIE, data: { name: 'new', value: '1' } },
  ]);

  const ev = new EnrichedEvent(rawEvent());
  ev.contexts = [{ schema: COOKIE, data: { name: 'old', value: '0' } }];
  assert.equal(await js.enrich(ev), undefined);
  assert.deepEqual(javascriptReplacement(ev), { contexts: replacement });
  assert.equal(ev.unstruct, null);

  const broken = await javascriptEnrichment.create(
    config('function process(event) { event.setContexts("{not json"); }'),
    env,
  );
  const ev2 = new EnrichedEvent(rawEvent());
  const out = await broken.enrich(ev2);
  assert.ok(Array.isArray(out));
  assert.match(out[0].message.error as string, /^setContexts: not valid JSON/);
});

test('drop() discards the event entirely; eraseDerived_contexts() replaces earlier entities', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dropper = await javascriptEnrichment.create(
    config('function process(event) { if (event.getApp_id() === "drop-me") event.drop(); }'),
    env,
  );
  const dropped = await runEnrichments(
    shared,
    [dropper],
    [pageView('UA', '10.0.0.1', { aid: 'drop-me' }), pageView('UA', '10.0.0.1', { aid: 'keep' })],
  );
  assert.deepEqual(dropped.bad, []);
  assert.deepEqual(
    dropped.events.map((e) => e.app_id),
    ['keep'],
  );
  assert.equal(dropper.enrich(new EnrichedEvent(rawEvent())), undefined);
  const ev = new EnrichedEvent(rawEvent());
  ev.set(F.app_id, 'drop-me');
  assert.equal(dropper.enrich(ev), DROP);

  const eraser = await javascriptEnrichment.create(
    config(
      `function process(event) { event.eraseDerived_contexts(); return [{schema: "${COOKIE}", data: {name: "only", value: "me"}}]; }`,
    ),
    env,
  );
  const erased = await runEnrichments(
    shared,
    [headerEntities, eraser],
    [pageView('UA', '10.0.0.1', {}, { headers: ['X-A: b'] })],
  );
  assert.deepEqual(erased.bad, []);
  assert.deepEqual(erased.derived[0], [{ schema: COOKIE, data: { name: 'only', value: 'me' } }]);
});

test('failures: exceptions, non-array output and non-self-describing entities (spec §4.15)', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const script = `
    function process(event) {
      switch (event.getApp_id()) {
        case "throw": throw new Error("boom");
        case "object": return { a: 1 };
        case "not-sdj": return [{ a: 1 }];
        case "nothing": return undefined;
        default: return null;
      }
    }`;
  const js = await javascriptEnrichment.create(config(script), env);
  const run = async (aid: string) => runEnrichments(shared, [js], [pageView('UA', '10.0.0.1', { aid })]);
  const enrichment = { schemaKey: SCHEMA_KEY, identifier: 'Javascript enrichment' };

  const thrown = await run('throw');
  assert.match(
    thrown.bad[0].schema,
    /^iglu:com\.snowplowanalytics\.snowplow\.badrows\/enrichment_failures\/jsonschema\/2-0-/,
  );
  assert.deepEqual(failureMessages(thrown.bad), [
    { enrichment, message: { error: 'Error during execution of JavaScript function: [Error: boom]' } },
  ]);
  assert.deepEqual(failureMessages((await run('object')).bad), [
    {
      enrichment,
      message: {
        error: 'Output of JavaScript function [{"a":1}] could be parsed as JSON but is not read as an array',
      },
    },
  ]);
  assert.deepEqual(failureMessages((await run('not-sdj')).bad), [
    {
      enrichment,
      message: {
        error:
          'Resulting contexts are not self-desribing. Error(s): [error code:[INVALID_DATA_PAYLOAD],json:[{"a":1}]]',
      },
    },
  ]);
  for (const aid of ['nothing', 'other']) {
    const ok = await run(aid);
    assert.deepEqual(ok.bad, []);
    assert.equal(ok.events[0].derived_contexts, '');
  }
});

test('V55: a script that does not compile fails start by default, or every event when exitOnCompileError=false', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const bad = config('function process(event) { return [ }');
  await assert.rejects(create(bad), (e: Error) => {
    assert.ok(e instanceof EnrichmentConfigError);
    assert.match(e.message, /^parameters\.script: Error compiling JavaScript function: \[SyntaxError: .+\]$/);
    return true;
  });
  await assert.rejects(
    create(config('function notProcess() {}')),
    /Error compiling JavaScript function: \[the script does not define function process\(event\)\]/,
  );
  const lenient = await createJavascriptEnrichment(bad, { exitOnCompileError: false });
  const { bad: rows, events } = await runEnrichments(shared, [lenient], [pageView('UA'), pageView('UA')]);
  assert.deepEqual(events, []);
  assert.equal(rows.length, 2);
  for (const msg of failureMessages(rows)) {
    assert.deepEqual(msg.enrichment, { schemaKey: SCHEMA_KEY, identifier: 'Javascript enrichment' });
    assert.match(msg.message.error, /^Error compiling JavaScript function: \[SyntaxError: .+\]$/);
  }
});

test('configuration errors name the key', async () => {
  const base = enrichmentConfig('com.snowplowanalytics.snowplow', 'javascript_script_config', '1-0-1', {});
  await assert.rejects(create(base), /parameters\.script: expected a base64 string/);
  await assert.rejects(
    create({ ...base, parameters: { script: '' } }),
    /parameters\.script: Provided script for JS enrichment is empty/,
  );
  await assert.rejects(
    create({ ...base, parameters: { script: 'not base64!' } }),
    /parameters\.script: not valid base64/,
  );
  await assert.rejects(
    create(config('function process() {}', { config: [1] })),
    /parameters\.config: expected an object/,
  );
});

test('hostile scripts fail their own event only: loops, allocation, recursion, escapes', async () => {
  const js = await createJavascriptEnrichment(
    config(`
      function process(event) {
        switch (event.getApp_id()) {
          case "loop": while (true) {}
          case "stubborn-loop": while (true) { try { for (;;) {} } catch (e) {} }
          case "regex": return /(a+)+b/.test("a".repeat(40));
          case "alloc": var a = []; while (true) a.push(new Array(1e6).fill(1.5));
          case "string": var s = "x"; while (true) s += s;
          case "recurse": return (function f(n) { return f(n + 1) + 1; })(0);
          case "escape":
            var global = (function () { return this; })() || globalThis;
            var viaFunction = Function("return [typeof require, typeof module, typeof std, typeof os, typeof Buffer, typeof fetch]")();
            var viaConstructor = event.constructor.constructor("return typeof require")();
            throw new Error(viaFunction.join() + "|" + viaConstructor + "|" + typeof global.process + "|" + typeof global.__furrowState);
          case "tamper":
            globalThis.__furrowRun = null;
            JSON.stringify = function () { return "garbage"; };
            return [];
          default: return [{ schema: "${COOKIE}", data: { name: "ok", value: event.getApp_id() } }];
        }
      }`),
    { timeoutMs: 200, memoryLimitBytes: 32 * 1024 * 1024 },
  );
  const run = async (aid: string) => {
    const ev = new EnrichedEvent(rawEvent());
    ev.set(F.app_id, aid);
    const started = Date.now();
    const out = await js.enrich(ev);
    return { out, ev, ms: Date.now() - started };
  };
  const errorOf = (out: unknown) => {
    assert.ok(Array.isArray(out), `expected failures, got ${String(out)}`);
    return out[0].message.error as string;
  };
  const healthy = async () => {
    const { out, ev } = await run('fine');
    assert.equal(out, undefined);
    assert.deepEqual(ev.derived, [{ schema: COOKIE, data: { name: 'ok', value: 'fine' } }]);
  };

  await healthy();
  for (const aid of ['loop', 'stubborn-loop', 'regex']) {
    const { out, ms } = await run(aid);
    assert.match(
      errorOf(out),
      /^Error during execution of JavaScript function: \[InternalError: interrupted/,
      aid,
    );
    assert.ok(ms < 2000, `${aid} took ${ms} ms`);
    await healthy();
  }
  for (const aid of ['alloc', 'string']) {
    // Either QuickJS's heap limit stops it, or the worker is killed when a built-in outruns the deadline.
    const { out, ms } = await run(aid);
    assert.match(errorOf(out), /out of memory|string too long|interrupted/, aid);
    assert.ok(ms < 2000, `${aid} took ${ms} ms`);
    await healthy();
  }
  assert.match(errorOf((await run('recurse')).out), /stack overflow|Maximum call stack/);
  await healthy();
  assert.equal(
    errorOf((await run('escape')).out),
    'Error during execution of JavaScript function: [Error: undefined,undefined,undefined,undefined,undefined,undefined|undefined|function|undefined]',
  );
  await healthy();
  // Replacing globals affects only what the script itself returns; the exchange with the host survives.
  assert.equal((await run('tamper')).out, undefined);
  await healthy();
  await js.close?.();
});

test('several JavaScript enrichments run in configuration order', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const first = await javascriptEnrichment.create(config('function process(e) { e.setApp_id("a"); }'), env);
  const second = await javascriptEnrichment.create(
    config('function process(e) { e.setApp_id(e.getApp_id() + "b"); }'),
    env,
  );
  const { events } = await runEnrichments(shared, [first, second], [pageView('UA')]);
  assert.equal(events[0].app_id, 'ab');
  const reversed = await runEnrichments(shared, [second, first], [pageView('UA')]);
  assert.equal(reversed.events[0].app_id, 'a');
});

test('a Snowplow configuration file loads unchanged through buildEnrichments', async (t) => {
  const shared = requireShared(t);
  if (!shared) return;
  const dir = await mkdtemp(join(tmpdir(), 'furrow-js-'));
  try {
    const c = enrichmentConfig('com.snowplowanalytics.snowplow', 'javascript_script_config', '1-0-1', {
      script: Buffer.from(
        'function process(event, params) { event.setApp_id(params.app); return []; }',
      ).toString('base64'),
      config: { app: 'from-config' },
    });
    await writeFile(join(dir, 'javascript_script_config.json'), JSON.stringify(enrichmentFile(c), null, 2));
    const built = await buildEnrichments(await readEnrichmentDir(dir), {
      resolver: sharedResolver(shared),
      baseDir: dir,
    });
    assert.equal(built.length, 1);
    const { events, bad } = await runEnrichments(shared, built, [pageView('UA')]);
    assert.deepEqual(bad, []);
    assert.equal(events[0].app_id, 'from-config');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
