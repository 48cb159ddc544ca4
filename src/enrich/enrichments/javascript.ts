/**
 * JavaScript enrichment (spec §4.15): runs the configured `process(event, params, headers)` on every
 * event, lets it read and change atomic fields through Snowplow's bean-style accessors, and adds the
 * self-describing JSONs it returns to the derived entities.
 *
 * Each configured script gets its own sandbox: a QuickJS interpreter (WebAssembly) in a dedicated worker
 * thread, with a time limit and a memory limit per call (`javascript-sandbox.ts`). The script can reach
 * nothing of the host. A script that loops, allocates without end or recurses too deep fails that event
 * (an `enrichment_failures` message), its worker is replaced, and the process carries on.
 *
 * Cost, measured on the 2-core development machine (busy): ~65 µs per event for a script that reads a
 * field and returns one entity, ~60 µs of it fixed (framing the event, handing it to the worker thread
 * and back, entering the interpreter); 200–400 ms to replace a killed sandbox. The same interpreter
 * called in-thread costs ~15 µs less but cannot be stopped inside a long-running built-in, which is
 * why the worker is worth it.
 *
 * Deliberate differences from Snowplow (Nashorn on the JVM): ES2023 instead of ES5/6; no Java classes
 * (`Java.type`, `java.lang.*`); error texts are QuickJS's (`TypeError: cannot read property 'x' of
 * undefined`); a script without a `process` function is a compile error; calls are time- and
 * memory-limited (Snowplow has no limits).
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow/javascript_script_config/jsonschema/1-0-1",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow","name":"javascript_script_config","enabled":true,
 *   "parameters":{"script":"<base64 of: function process(event, params) { return [...]; }>",
 *                 "config":{"foo":"bar"}}}}
 */
import { once } from 'node:events';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { parseSelfDescribing } from '../../iglu/schema-key.js';
import { F } from '../../protocol/enriched-fields.js';
import { sanitize } from '../../protocol/sanitize.js';
import {
  CONTEXTS_SCHEMA,
  type EnrichedEvent,
  type SelfDescribingJson,
  UNSTRUCT_SCHEMA,
  wrapContexts,
  wrapUnstruct,
} from '../event.js';
import type { CallOutcome, CallReport, SandboxHello, SandboxInit } from './javascript-sandbox.js';
import {
  DROP,
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  type EnrichmentFailure,
  type EnrichmentInfo,
  ORDER,
  type StepOutcome,
} from './types.js';

export interface JavascriptOptions {
  /**
   * Snowplow's `exitOnJsCompileError` (default true, as Snowplow): a script that does not compile
   * fails start; when false the enrichment loads and every event fails with the compile error (V55).
   */
  exitOnCompileError?: boolean;
  /** wall-clock limit for one call of `process` (default 1000 ms) */
  timeoutMs?: number;
  /** heap limit of the script's interpreter (default 64 MiB) */
  memoryLimitBytes?: number;
}

const DEFAULTS = { exitOnCompileError: true, timeoutMs: 1000, memoryLimitBytes: 64 * 1024 * 1024 };

/**
 * How long past its deadline a call may run before the worker is killed. QuickJS stops ordinary code
 * at the deadline by itself; only a built-in grinding without checking it (a `fill` over millions of
 * sparse elements) gets this far.
 */
const KILL_GRACE_MS = 500;
/** Starting a worker and loading the script (whose top-level code may run up to 5 s) must end within this. */
const START_TIMEOUT_MS = 15_000;

const JSON_COLUMNS = new Set<number>([F.contexts, F.unstruct_event, F.derived_contexts]);
const SANDBOX_URL = new URL('./javascript-sandbox.js', import.meta.url);

class CompileFailure extends Error {}

/**
 * The host side of one sandbox worker. Calls are synchronous: the request goes out on a message port,
 * the thread sleeps on a shared flag (`Atomics.wait`, bounded by the deadline plus grace) and takes the
 * reply with `receiveMessageOnPort`, so an event costs no trip through the event loop.
 */
class SandboxWorker {
  private dead = false;

  private constructor(
    private readonly worker: Worker,
    private readonly port: MessagePort,
    private readonly signal: Int32Array,
    private readonly waitMs: number,
  ) {}

  static async start(
    source: string,
    configJson: string,
    opts: Required<JavascriptOptions>,
  ): Promise<SandboxWorker> {
    const { port1, port2 } = new MessageChannel();
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const init: SandboxInit = {
      source,
      configJson,
      limits: { timeoutMs: opts.timeoutMs, memoryLimitBytes: opts.memoryLimitBytes },
      signal,
      port: port2,
    };
    const worker = new Worker(SANDBOX_URL, {
      workerData: { furrowJavascriptSandbox: init },
      transferList: [port2],
      // The interpreter's heap is WebAssembly memory (bounded by memoryLimitBytes); V8's heap here only
      // holds the glue. A large stack keeps QuickJS's native recursion clear of the thread's limit.
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
    });
    // Without a listener a crash of the worker would be rethrown in this thread.
    worker.on('error', () => {});
    let timer: NodeJS.Timeout | undefined;
    let hello: SandboxHello;
    try {
      [hello] = (await Promise.race([
        once(worker, 'message'),
        once(worker, 'exit').then(([code]) => {
          throw new Error(`the sandbox worker exited (code ${code}) before loading the script`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('the sandbox worker did not start in time')),
            START_TIMEOUT_MS,
          );
        }),
      ])) as [SandboxHello];
    } catch (e) {
      void worker.terminate();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    if (!hello.ready) {
      void worker.terminate();
      if (hello.compileError !== undefined) throw new CompileFailure(hello.compileError);
      throw new Error(hello.error ?? 'the sandbox worker failed');
    }
    // An idle sandbox must not keep the process alive.
    worker.unref();
    port1.unref();
    return new SandboxWorker(worker, port1, signal, opts.timeoutMs + KILL_GRACE_MS);
  }

  call(input: string): CallOutcome {
    if (this.dead) return { ok: false, error: 'the sandbox is gone', fatal: true };
    Atomics.store(this.signal, 0, 0);
    this.port.postMessage(input);
    const waited = Atomics.wait(this.signal, 0, 0, this.waitMs);
    const reply = receiveMessageOnPort(this.port);
    if (reply === undefined) {
      this.kill();
      return {
        ok: false,
        error:
          waited === 'timed-out'
            ? `InternalError: interrupted (the call ran for longer than ${this.waitMs} ms; its sandbox was replaced)`
            : 'the sandbox stopped answering',
        fatal: true,
      };
    }
    return reply.message as CallOutcome;
  }

  kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.port.close();
    void this.worker.terminate().catch(() => {});
  }
}

/** What a script replaced with `setContexts` / `setUnstruct_event` (its text), for phase-3 re-validation. */
export interface JavascriptReplacement {
  contexts?: string | null;
  unstruct?: string | null;
}

const replaced = new WeakMap<EnrichedEvent, JavascriptReplacement>();

/**
 * The tracker JSON a JavaScript enrichment replaced on this event, if any. The new entities are already
 * on the event (`ev.contexts`, `ev.unstruct`); Snowplow re-validates them against Iglu in phase 3.
 */
export function javascriptReplacement(ev: EnrichedEvent): JavascriptReplacement | undefined {
  return replaced.get(ev);
}

const CONTEXTS_WRAPPER = /^iglu:com\.snowplowanalytics\.snowplow\/contexts\/jsonschema\/1-0-\d+$/;
const UNSTRUCT_WRAPPER = /^iglu:com\.snowplowanalytics\.snowplow\/unstruct_event\/jsonschema\/1-0-\d+$/;

/** Parses a wrapper set by the script; a string result says what is wrong with it. */
function unwrap(text: string, kind: 'contexts' | 'unstruct'): SelfDescribingJson[] | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  const outer = parseSelfDescribing(json);
  if (!outer.ok) return `not self-describing JSON (${outer.error})`;
  const schema = (json as SelfDescribingJson).schema;
  if (!(kind === 'contexts' ? CONTEXTS_WRAPPER : UNSTRUCT_WRAPPER).test(schema)) {
    return `expected a ${kind === 'contexts' ? CONTEXTS_SCHEMA : UNSTRUCT_SCHEMA} wrapper, got ${schema}`;
  }
  const inner = kind === 'contexts' ? outer.data : [outer.data];
  if (!Array.isArray(inner)) return 'the contexts wrapper does not hold an array';
  const out: SelfDescribingJson[] = [];
  for (const e of inner) {
    const sd = parseSelfDescribing(e);
    if (!sd.ok) return `an entity is not self-describing JSON (${sd.error})`;
    out.push({ schema: (e as SelfDescribingJson).schema, data: sd.data });
  }
  return out;
}

/** Turns the script's return value (already JSON text) into entities, with Snowplow's messages. */
function entitiesOf(result: string): SelfDescribingJson[] | string {
  const json = JSON.parse(result) as unknown;
  if (!Array.isArray(json)) {
    return `Output of JavaScript function [${result}] could be parsed as JSON but is not read as an array`;
  }
  const out: SelfDescribingJson[] = [];
  const errors: string[] = [];
  for (const e of json) {
    const sd = parseSelfDescribing(e);
    if (sd.ok) out.push({ schema: (e as SelfDescribingJson).schema, data: sd.data });
    else errors.push(`error code:[${sd.error}],json:[${JSON.stringify(e)}]`);
  }
  if (errors.length > 0) return `Resulting contexts are not self-desribing. Error(s): [${errors.join(';')}]`;
  return out;
}

function decodeScript(encoded: unknown): string {
  if (typeof encoded !== 'string')
    throw new EnrichmentConfigError('parameters.script: expected a base64 string');
  const compact = encoded.replace(/\s+/g, '');
  // Snowplow accepts both base64 alphabets; anything else is not a script.
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)) {
    throw new EnrichmentConfigError('parameters.script: not valid base64');
  }
  const source = Buffer.from(compact, 'base64').toString('utf8');
  if (source.trim() === '') {
    throw new EnrichmentConfigError('parameters.script: Provided script for JS enrichment is empty');
  }
  return source;
}

/** The event as the sandbox reads it (wire format in `javascript-sandbox.ts`). */
function sandboxInput(ev: EnrichedEvent): string {
  const f = ev.fields;
  let line = '';
  for (let i = 0; i < f.length; i++) {
    const v = JSON_COLUMNS.has(i) ? null : f[i];
    // Values are sanitised when set; this keeps the framing safe even if one slipped through.
    const text = v === null ? '' : (sanitize(v) ?? '');
    line += i === 0 ? text : `\t${text}`;
  }
  const json = JSON.stringify([
    wrapContexts(ev.contexts),
    ev.unstruct === null ? null : wrapUnstruct(ev.unstruct),
    wrapContexts(ev.derived),
  ]);
  return `${line}\n${JSON.stringify(ev.raw.headers)}\n${json}`;
}

/** Builds the enrichment with explicit runtime options (the registry uses the defaults). */
export async function createJavascriptEnrichment(
  config: EnrichmentConfig,
  options: JavascriptOptions = {},
): Promise<Enrichment> {
  const opts: Required<JavascriptOptions> = { ...DEFAULTS, ...options };
  const source = decodeScript(config.parameters.script);
  const params = config.parameters.config ?? {};
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new EnrichmentConfigError('parameters.config: expected an object');
  }
  const configJson = JSON.stringify(params);
  const info: EnrichmentInfo = { schemaKey: config.schemaKey, identifier: 'Javascript enrichment' };
  const failure = (error: string): EnrichmentFailure[] => [{ enrichment: info, message: { error } }];
  const compileMessage = (detail: string) => `Error compiling JavaScript function: [${detail}]`;

  let sandbox: SandboxWorker | null = null;
  /** set when the script does not compile and `exitOnCompileError` is false: every event fails with it */
  let compileError: string | null = null;
  try {
    sandbox = await SandboxWorker.start(source, configJson, opts);
  } catch (e) {
    if (!(e instanceof CompileFailure)) throw e;
    compileError = compileMessage(e.message);
    if (opts.exitOnCompileError) throw new EnrichmentConfigError(`parameters.script: ${compileError}`);
  }
  let restarting: Promise<SandboxWorker | string> | null = null;

  const apply = (ev: EnrichedEvent, report: CallReport): StepOutcome => {
    const f = ev.fields;
    for (const [i, v] of report.changes) {
      if (!JSON_COLUMNS.has(i)) f[i] = v === null ? null : sanitize(v);
    }
    const problems: string[] = [];
    if (report.contexts !== undefined || report.unstruct !== undefined) {
      const rep: JavascriptReplacement = replaced.get(ev) ?? {};
      if (report.contexts !== undefined && report.contexts !== wrapContexts(ev.contexts)) {
        const parsed = report.contexts === null ? [] : unwrap(report.contexts, 'contexts');
        if (typeof parsed === 'string') problems.push(`setContexts: ${parsed}`);
        else {
          ev.contexts = parsed;
          rep.contexts = report.contexts;
        }
      }
      const currentUe = ev.unstruct === null ? null : wrapUnstruct(ev.unstruct);
      if (report.unstruct !== undefined && report.unstruct !== currentUe) {
        const parsed = report.unstruct === null ? [] : unwrap(report.unstruct, 'unstruct');
        if (typeof parsed === 'string') problems.push(`setUnstruct_event: ${parsed}`);
        else {
          ev.unstruct = parsed.length === 0 ? null : parsed[0];
          rep.unstruct = report.unstruct;
        }
      }
      if (rep.contexts !== undefined || rep.unstruct !== undefined) {
        replaced.set(ev, rep);
        // Phase 3 validates replaced tracker JSON through Iglu again, as Snowplow does.
        if (rep.contexts !== undefined) ev.revalidate.contexts = true;
        if (rep.unstruct !== undefined) ev.revalidate.unstruct = true;
      }
    }
    if (report.drop) return DROP;
    if (report.error !== null)
      problems.push(`Error during execution of JavaScript function: [${report.error}]`);
    else if (report.result !== null && report.result !== 'null') {
      const entities = entitiesOf(report.result);
      if (typeof entities === 'string') problems.push(entities);
      else if (report.erase) ev.derived = entities;
      else if (entities.length > 0) ev.derived = entities.concat(ev.derived);
    } else if (report.erase) ev.derived = [];
    return problems.length === 0 ? undefined : problems.flatMap(failure);
  };

  const runOn = (box: SandboxWorker, ev: EnrichedEvent): StepOutcome => {
    const outcome = box.call(sandboxInput(ev));
    if (outcome.ok) return apply(ev, outcome.report);
    if (outcome.fatal) {
      box.kill();
      sandbox = null;
      restarting = SandboxWorker.start(source, configJson, opts).catch((e: Error) =>
        e instanceof CompileFailure
          ? compileMessage(e.message)
          : `Error compiling JavaScript function: [${e.message}]`,
      );
    }
    return failure(`Error during execution of JavaScript function: [${outcome.error}]`);
  };

  return {
    order: ORDER.javascript,
    info,
    enrich(ev: EnrichedEvent): StepOutcome | Promise<StepOutcome> {
      if (sandbox !== null) return runOn(sandbox, ev);
      const pending = restarting;
      if (pending === null) return failure(compileError ?? compileMessage('the sandbox is unavailable'));
      return pending.then((box) => {
        if (restarting === pending) restarting = null;
        if (typeof box === 'string') {
          compileError = box;
          return failure(box);
        }
        sandbox ??= box;
        return runOn(sandbox, ev);
      });
    },
    async close() {
      sandbox?.kill();
      sandbox = null;
      const pending = restarting;
      restarting = null;
      if (pending !== null) {
        const box = await pending;
        if (typeof box !== 'string') box.kill();
      }
    },
  };
}

export const javascriptEnrichment: EnrichmentDefinition = {
  name: 'javascript_script_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow/javascript_script_config/jsonschema/1-0-*',
  create: (config) => createJavascriptEnrichment(config),
};
