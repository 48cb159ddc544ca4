/**
 * The JavaScript enrichment's sandbox: a QuickJS interpreter (WebAssembly, `quickjs-emscripten-core`)
 * with the user's script loaded, run inside a dedicated worker thread (this file is the worker's entry).
 *
 * The interpreter can reach nothing of the host: no `require`, no Node `process`, no file system or
 * network, no shared objects — it gets one string per event and returns one string. QuickJS's own
 * interrupt handler stops ordinary runaway code at the deadline and its heap limit stops ordinary
 * allocation; the worker boundary covers the rest (a built-in such as `Array.prototype.fill` grinding
 * through millions of elements never checks the deadline, and deep native recursion can exhaust the
 * thread's stack): the host kills the worker and starts a fresh one.
 *
 * Wire format per event (host → sandbox), chosen because JSON.parse inside QuickJS costs ~60 µs for
 * the 131 fields while String#split costs a few: `<131 fields joined by TAB, null as "">` LF
 * `<headers as a JSON array>` LF `<[contexts, unstruct_event, derived_contexts] wrappers as JSON>`,
 * the last part parsed only if the script asks for a JSON column. Fields never hold TAB or LF (every
 * value bound for the TSV is sanitised), and an empty string is never a value (sanitising makes it null).
 * Sandbox → host: one JSON object with the changed fields and the script's result (`CallReport`).
 */
import { isMainThread, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import {
  newQuickJSWASMModuleFromVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
} from 'quickjs-emscripten-core';
import { F, FIELDS, type FieldType } from '../../protocol/enriched-fields.js';

export interface SandboxLimits {
  /** wall-clock limit of one call of `process` */
  timeoutMs: number;
  /** heap limit of the interpreter */
  memoryLimitBytes: number;
}

/** What the script did to one event. */
export interface CallReport {
  changes: Array<[number, string | null]>;
  result: string | null;
  error: string | null;
  contexts?: string | null;
  unstruct?: string | null;
  erase: boolean;
  drop: boolean;
}

export type CallOutcome = { ok: true; report: CallReport } | { ok: false; error: string; fatal: boolean };

/** What the worker is started with. */
export interface SandboxInit {
  source: string;
  configJson: string;
  limits: SandboxLimits;
  /** `signal[0]` is set to 1 and notified when a reply has been posted on `port` */
  signal: Int32Array;
  port: MessagePort;
}

/** First message of the worker on its parent port. */
export type SandboxHello = { ready: true } | { ready: false; compileError?: string; error?: string };

/**
 * QuickJS's own stack limit. Its native frames live on the thread's stack (the worker is started with
 * 4 MB), so this stays far below it to make deep recursion a catchable `InternalError: stack overflow`.
 */
const MAX_STACK_BYTES = 256 * 1024;
/** Top-level code of the script (run once when it is loaded) gets more time than one event. */
const LOAD_TIMEOUT_MS = 5000;

const JSON_COLUMNS = new Set<number>([F.contexts, F.unstruct_event, F.derived_contexts]);

/** Type code per field as the sandbox converts it: s text, i integer, f number, b 0/1 flag, j JSON column. */
function typeCode(i: number, t: FieldType): string {
  if (JSON_COLUMNS.has(i)) return 'j';
  if (t === 'int') return 'i';
  if (t === 'float' || t === 'decimal') return 'f';
  if (t === 'bool') return 'b';
  return 's';
}

/**
 * Runs before the user's script. It builds, once, an `Event` prototype with a getter and setter per
 * field (`getApp_id`/`setApp_id`, plus `app_id` as a bean property, as Nashorn exposes them) and the
 * entry point called per event. JSON and friends are captured first so that a script replacing them
 * cannot break the exchange with the host (it can only spoil its own result, which the host checks).
 */
function prelude(configJson: string): string {
  const names = JSON.stringify(FIELDS.map((f) => f.name));
  const types = JSON.stringify(FIELDS.map((f, i) => typeCode(i, f.type)).join(''));
  return `(function (g) {
  'use strict';
  var parse = JSON.parse, stringify = JSON.stringify, isFinite_ = isFinite, trunc = Math.trunc;
  var defineProperty = Object.defineProperty, String_ = String, Number_ = Number;
  var split = String.prototype.split, slice = String.prototype.slice, indexOf = String.prototype.indexOf;
  var NAMES = ${names}, TYPES = ${types};
  var CONFIG = ${JSON.stringify(configJson)};
  var S = '__furrowState';
  function Event() {}
  var P = Event.prototype;
  function toNumber(v, name) {
    var n = Number_(v);
    if (!isFinite_(n)) throw new TypeError('set' + name + ': ' + String_(v) + ' is not a number');
    return n;
  }
  function json(s) {
    if (s.j === null) s.j = parse(s.jt);
    return s.j;
  }
  function field(i) {
    var name = NAMES[i], cap = name.charAt(0).toUpperCase() + slice.call(name, 1), t = TYPES.charAt(i);
    var get, set;
    if (t === 'j') return;
    if (t === 's') {
      get = function () { var v = this[S].f[i]; return v === '' ? null : v; };
      set = function (v) { var s = this[S]; s.f[i] = v == null ? null : String_(v); s.m[i] = 1; };
    } else {
      get = function () { var v = this[S].f[i]; return v === '' || v === null ? null : Number_(v); };
      set = function (v) {
        var s = this[S], out = null;
        if (v != null) {
          if (t === 'b' && typeof v === 'boolean') out = v ? '1' : '0';
          else {
            var n = toNumber(v, cap);
            out = String_(t === 'f' ? n : trunc(n));
          }
        }
        s.f[i] = out; s.m[i] = 1;
      };
    }
    P['get' + cap] = get;
    P['set' + cap] = set;
    defineProperty(P, name, { get: get, set: set, enumerable: false, configurable: false });
  }
  for (var i = 0; i < NAMES.length; i++) field(i);
  P.getContexts = function () { var s = this[S]; return s.cm ? s.c : json(s)[0]; };
  P.setContexts = function (v) { var s = this[S]; s.c = v == null ? null : String_(v); s.cm = 1; };
  P.getUnstruct_event = function () { var s = this[S]; return s.um ? s.u : json(s)[1]; };
  P.setUnstruct_event = function (v) { var s = this[S]; s.u = v == null ? null : String_(v); s.um = 1; };
  P.getDerived_contexts = function () { return json(this[S])[2]; };
  P.setDerived_contexts = function () {};
  P.eraseDerived_contexts = function () { this[S].e = 1; };
  P.drop = function () { this[S].x = 1; };
  function errorText(e) {
    try { return e instanceof Error ? String_(e.name) + ': ' + String_(e.message) : String_(e); }
    catch (_) { return 'unprintable exception'; }
  }
  function run(input) {
    var a = indexOf.call(input, '\\n'), b = indexOf.call(input, '\\n', a + 1);
    var s = { f: split.call(slice.call(input, 0, a), '\\t'), m: [], jt: slice.call(input, b + 1), j: null,
              c: null, u: null, cm: 0, um: 0, e: 0, x: 0 };
    var ev = new Event();
    defineProperty(ev, S, { value: s, enumerable: false });
    var result = null, error = null;
    try {
      if (typeof process !== 'function') throw new ReferenceError('process is not defined');
      var r = stringify(process(ev, parse(CONFIG), parse(slice.call(input, a + 1, b))));
      result = r === undefined ? null : r;
    } catch (e) {
      error = errorText(e);
    }
    var changes = [], n = 0;
    for (var k = 0; k < s.m.length; k++) if (s.m[k] === 1) changes[n++] = [k, s.f[k]];
    return stringify({
      changes: changes, result: result, error: error,
      contexts: s.cm ? s.c : undefined, unstruct: s.um ? s.u : undefined,
      erase: s.e === 1, drop: s.x === 1
    });
  }
  defineProperty(g, '__furrowRun', { value: run, writable: false, enumerable: false, configurable: false });
})(globalThis);`;
}

export class CompileError extends Error {}

function errorText(dumped: unknown): string {
  if (typeof dumped === 'object' && dumped !== null && 'message' in dumped) {
    const d = dumped as { name?: unknown; message?: unknown };
    return d.name === undefined ? String(d.message) : `${String(d.name)}: ${String(d.message)}`;
  }
  return String(dumped);
}

function parseReport(text: string): CallReport | null {
  let r: Partial<CallReport>;
  try {
    r = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof r !== 'object' || r === null || !Array.isArray(r.changes)) return null;
  for (const c of r.changes) {
    if (!Array.isArray(c) || !Number.isInteger(c[0]) || c[0] < 0 || c[0] >= FIELDS.length) return null;
    if (c[1] !== null && typeof c[1] !== 'string') return null;
  }
  const optString = (v: unknown) => v === undefined || v === null || typeof v === 'string';
  if (!optString(r.result) || !optString(r.error) || !optString(r.contexts) || !optString(r.unstruct))
    return null;
  return {
    changes: r.changes,
    result: r.result ?? null,
    error: r.error ?? null,
    contexts: r.contexts,
    unstruct: r.unstruct,
    erase: r.erase === true,
    drop: r.drop === true,
  };
}

/** One QuickJS interpreter with the script loaded. */
export class Sandbox {
  private deadline = 0;

  private constructor(
    /** kept so the interpreter lives as long as this sandbox */
    readonly runtime: QuickJSRuntime,
    private readonly context: QuickJSContext,
    private readonly entry: QuickJSHandle,
    private readonly timeoutMs: number,
  ) {}

  /** Loads the script; a script that does not compile or defines no `process` is a `CompileError`. */
  static async create(source: string, configJson: string, limits: SandboxLimits): Promise<Sandbox> {
    const module = await newQuickJSWASMModuleFromVariant(import('@jitl/quickjs-wasmfile-release-sync'));
    const runtime = module.newRuntime({
      memoryLimitBytes: limits.memoryLimitBytes,
      maxStackSizeBytes: MAX_STACK_BYTES,
    });
    const context = runtime.newContext();
    let deadline = 0;
    runtime.setInterruptHandler(() => Date.now() > deadline);
    const evaluate = (code: string, file: string): string | null => {
      deadline = Date.now() + LOAD_TIMEOUT_MS;
      const r = context.evalCode(code, file);
      if (r.error === undefined) {
        r.value.dispose();
        return null;
      }
      const text = errorText(context.dump(r.error));
      r.error.dispose();
      return text;
    };
    const preludeError = evaluate(prelude(configJson), 'furrow-prelude.js');
    if (preludeError !== null) throw new Error(`JavaScript enrichment prelude failed: ${preludeError}`);
    const scriptError = evaluate(source, 'enrichment.js');
    if (scriptError !== null) throw new CompileError(scriptError);
    const check = context.evalCode('typeof process');
    const kind = check.error === undefined ? context.getString(check.value) : 'error';
    (check.error ?? check.value).dispose();
    if (kind !== 'function') throw new CompileError('the script does not define function process(event)');
    const entry = context.getProp(context.global, '__furrowRun');
    const sandbox = new Sandbox(runtime, context, entry, limits.timeoutMs);
    runtime.setInterruptHandler(() => Date.now() > sandbox.deadline);
    return sandbox;
  }

  /** Runs `process` on one event (see the wire format above). `fatal` means the interpreter must go. */
  call(input: string): CallOutcome {
    const ctx = this.context;
    this.deadline = Date.now() + this.timeoutMs;
    const arg = ctx.newString(input);
    try {
      const r = ctx.callFunction(this.entry, ctx.undefined, arg);
      if (r.error !== undefined) {
        const text = errorText(ctx.dump(r.error));
        r.error.dispose();
        const timedOut = /interrupted/.test(text);
        return {
          ok: false,
          error: timedOut ? `${text} (the call ran for longer than ${this.timeoutMs} ms)` : text,
          fatal: true,
        };
      }
      const out = ctx.getString(r.value);
      r.value.dispose();
      const report = parseReport(out);
      if (report === null) return { ok: false, error: 'the script corrupted its result', fatal: true };
      // An exhausted heap is recoverable inside QuickJS, but a fresh interpreter is cheaper to trust.
      if (report.error !== null && /out of memory/.test(report.error)) {
        return { ok: false, error: report.error, fatal: true };
      }
      return { ok: true, report };
    } finally {
      arg.dispose();
    }
  }
}

/** Worker entry: load the script, say whether it compiled, then answer one call per message. */
async function serve(init: SandboxInit): Promise<void> {
  const hello = (m: SandboxHello) => parentPort?.postMessage(m);
  let sandbox: Sandbox;
  try {
    sandbox = await Sandbox.create(init.source, init.configJson, init.limits);
  } catch (e) {
    hello(
      e instanceof CompileError
        ? { ready: false, compileError: e.message }
        : { ready: false, error: String(e) },
    );
    return;
  }
  const { port, signal } = init;
  port.on('message', (input: string) => {
    let outcome: CallOutcome;
    try {
      outcome = sandbox.call(input);
    } catch (e) {
      // The thread's stack overflowed inside the interpreter: its state is unknown from here on.
      outcome = { ok: false, error: String(e), fatal: true };
    }
    port.postMessage(outcome);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
  hello({ ready: true });
}

if (
  !isMainThread &&
  (workerData as { furrowJavascriptSandbox?: SandboxInit } | null)?.furrowJavascriptSandbox
) {
  void serve((workerData as { furrowJavascriptSandbox: SandboxInit }).furrowJavascriptSandbox);
}
