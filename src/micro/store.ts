/**
 * The in-memory event store behind the Micro-compatible API: good events (with their raw event and enriched
 * TSV line) and bad events (collector payload, raw event, bad row), newest first, with the query semantics of
 * Snowplow Micro (`/micro/good`, `/micro/bad`, `/micro/events`, columns, timeline).
 *
 * Memory stays bounded: at most `maxEvents` good + bad events are kept, the oldest dropped first (counted in
 * `stats().dropped`). Per good event only the TSV line and the raw event (as an object, as its JSON text, or
 * in `furrow up` as a reference to its raw-stream record, rebuilt when a query returns it) are kept; everything else (the filter fields, the 131-key event
 * object) is derived when queried. In `furrow up` the store holds up to 100k events fed at thousands per
 * second while nobody reads them: holding the split fields (131 strings per event) and raw-event objects
 * made the heap's major GCs cost more CPU than the loader (bench/e2e.ts), while flat strings are never
 * traced.
 *
 * @example
 * const store = new MicroStore({ maxEvents: 10_000 });
 * store.addGood(rawEvent, tsvLine);
 * await store.good({ event_type: 'page_view', limit: 1 }); // the most recent page view, as Micro's GoodEvent JSON
 */
import { tp1Adapter } from '../enrich/adapters/tp1.js';
import { tp2Adapter } from '../enrich/adapters/tp2.js';
import type { CollectorPayload } from '../protocol/collector-payload.js';
import { F, FIELD_COUNT } from '../protocol/enriched-fields.js';
import {
  canonicalFromFields,
  EnrichedLineError,
  lossyFromFields,
  parseContextsColumn,
  splitEnrichedLine,
  tsvTimestampToMs,
  WRONG_FIELD_COUNT,
} from '../protocol/event-json.js';
import { parseQueryString } from '../protocol/querystring.js';
import type { RawEvent } from '../protocol/raw-event.js';

export const DEFAULT_MAX_EVENTS = 100_000;

export const VALIDATION_ERROR = 'Error while validating the event.';
export const EXTRACTION_ERROR =
  'Error while extracting event(s) from collector payload and validating it/them.';

// --- JSON shapes (Micro's circe encodings) -------------------------------------------------------------------

export interface ApiJson {
  vendor: string;
  version: string;
}

export interface SourceJson {
  name: string;
  encoding: string;
  hostname: string | null;
}

export interface ContextJson {
  timestamp: string | null;
  ipAddress: string | null;
  useragent: string | null;
  refererUri: string | null;
  headers: string[];
  userId: string | null;
}

export interface RawEventJson {
  api: ApiJson;
  parameters: Record<string, string | null>;
  contentType: string | null;
  source: SourceJson;
  context: ContextJson;
}

export interface CollectorPayloadJson {
  api: ApiJson;
  querystring: string[];
  contentType: string | null;
  body: string | null;
  source: SourceJson;
  context: ContextJson;
}

export interface GoodEventJson {
  rawEvent: RawEventJson;
  eventType: string | null;
  schema: string | null;
  contexts: string[];
  event: Record<string, unknown>;
  incomplete: boolean;
}

export interface BadEventJson {
  collectorPayload: CollectorPayloadJson | null;
  rawEvent: RawEventJson | null;
  errors: string[];
}

export interface Summary {
  total: number;
  good: number;
  bad: number;
}

export interface MicroStats {
  /** stored good events, incomplete ones included */
  good: number;
  incomplete: number;
  bad: number;
  /** events dropped to keep within `maxEvents` since the store was created */
  dropped: number;
}

// --- Query shapes ----------------------------------------------------------------------------------------------

export interface GoodFilters {
  event_type?: string;
  schema?: string;
  contexts?: string[];
  limit?: number;
}

export interface BadFilters {
  vendor?: string;
  version?: string;
  limit?: number;
}

export interface EventsFilter {
  column: string;
  values: string[];
}

export interface EventsRequest {
  page: number;
  pageSize: number;
  filters: EventsFilter[];
  /** true: valid events only; false: failed (incomplete) events only; null: all */
  validEvents?: boolean | null;
  /** ms since epoch on `collector_tstamp`; start inclusive, end exclusive */
  timeRange?: { start: number | null; end: number | null } | null;
  sorting?: { column: string; desc: boolean } | null;
}

export interface EventsResponse {
  events: Record<string, unknown>[];
  totalPages: number;
  totalItems: number;
}

export interface ColumnStats {
  sortable: boolean;
  filterable: boolean;
  values: string[] | null;
}

export interface TimelineBucket {
  /** ms since epoch, inclusive */
  start: number;
  /** ms since epoch, exclusive */
  end: number;
}

export interface TimelineCount {
  validEvents: number;
  failedEvents: number;
}

export interface MicroStoreOptions {
  /** good + bad events kept before the oldest are dropped; default 100 000 */
  maxEvents?: number;
  /** rebuilds what events stored by reference (`addGoodRef`, `addBadRef`) came from, when queried */
  source?: RawSource;
}

/**
 * Turns a raw-stream record back into its collector payload and raw events: the same loader and adapters
 * enrich ran, which are pure functions of the record for the tracker protocol (see `isRebuildable`).
 */
export interface RawSource {
  /** the decoded, checked payload; null when enrich could not load it */
  payload(bytes: Uint8Array): CollectorPayload | null;
  /** the adapter's raw events; null when it fails; a promise when it has to wait for Iglu */
  events(payload: CollectorPayload): readonly RawEvent[] | null | Promise<readonly RawEvent[] | null>;
}

/**
 * Raw events the main thread can rebuild from their record: the tracker protocol's adapters only look at
 * the payload (and Iglu for `payload_data`); webhook adapters are few events and are passed as JSON text.
 */
export function isRebuildable(raw: RawEvent): boolean {
  return (
    (raw.vendor === tp2Adapter.vendor && raw.version === tp2Adapter.version) ||
    (raw.vendor === tp1Adapter.vendor && raw.version === tp1Adapter.version)
  );
}

/**
 * A stored event's origin: its raw-stream record and the index of its raw event in the adapter's output
 * (-1: the record as a whole failed). Several events of one record share the bytes.
 */
class RawRef {
  constructor(
    readonly bytes: Uint8Array,
    readonly event: number,
  ) {}
}

/** What one query rebuilds, per record, so a record's events share one decode and one adapter run. */
class Rebuilds {
  private readonly payloads = new Map<Uint8Array, CollectorPayload | null>();
  private readonly events = new Map<Uint8Array, Promise<readonly RawEvent[] | null>>();

  constructor(private readonly source: RawSource | undefined) {}

  private get src(): RawSource {
    if (this.source === undefined) throw new Error('the Micro store has events by reference but no source');
    return this.source;
  }

  payload(bytes: Uint8Array): CollectorPayload | null {
    let p = this.payloads.get(bytes);
    if (p === undefined) {
      p = this.src.payload(bytes);
      this.payloads.set(bytes, p);
    }
    return p;
  }

  async raw(ref: RawRef): Promise<RawEvent> {
    let events = this.events.get(ref.bytes);
    if (events === undefined) {
      const p = this.payload(ref.bytes);
      events = Promise.resolve(p === null ? null : this.src.events(p));
      this.events.set(ref.bytes, events);
    }
    const raw = (await events)?.[ref.event];
    // Only if Iglu now answers differently for `payload_data` than when the event was enriched.
    if (raw === undefined)
      throw new Error('the raw event of a stored event could not be rebuilt from its record');
    return raw;
  }
}

// --- Storage ---------------------------------------------------------------------------------------------------

interface GoodRecord {
  seq: number;
  line: string;
  /**
   * the object, its JSON text (parsed on each read, so nothing but the string stays on the heap), or where
   * to rebuild it from (replaced by the JSON text once queried)
   */
  raw: RawEventJson | string | RawRef;
  incomplete: boolean;
}

/** What the `/micro/good` filters look at, derived from the line when queried. */
interface GoodMeta {
  fields: string[];
  eventType: string | null;
  schema: string | null;
}

function goodMeta(r: GoodRecord): GoodMeta {
  const fields = splitEnrichedLine(r.line);
  const vendor = fields[F.event_vendor];
  const name = fields[F.event_name];
  const format = fields[F.event_format];
  const version = fields[F.event_version];
  return {
    fields,
    eventType: fields[F.event] === '' ? null : fields[F.event],
    schema:
      vendor !== '' && name !== '' && format !== '' && version !== ''
        ? `iglu:${vendor}/${name}/${format}/${version}`
        : null,
  };
}

function contextSchemas(fields: readonly string[]): string[] {
  return parseContextsColumn(fields[F.contexts]).map((c) => c.schema);
}

function collectorMsOf(line: string): number | null {
  return tsvTimestampToMs(fieldOf(line, F.collector_tstamp));
}

/** One field of a TSV line without splitting all 131. */
function fieldOf(line: string, index: number): string {
  let start = 0;
  for (let i = 0; i < index; i++) start = line.indexOf('\t', start) + 1;
  const end = line.indexOf('\t', start);
  return line.slice(start, end === -1 ? line.length : end);
}

/** Throws, as `splitEnrichedLine` would, for a line without 131 fields; counting tabs allocates nothing. */
function checkFieldCount(line: string): void {
  let n = 1;
  for (let i = line.indexOf('\t'); i !== -1; i = line.indexOf('\t', i + 1)) n++;
  if (n !== FIELD_COUNT) throw new EnrichedLineError(WRONG_FIELD_COUNT);
}

interface BadRecord {
  seq: number;
  /** the answer, or what to build it from (replaced by the answer once queried) */
  json: BadEventJson | LazyBad;
}

interface LazyBad {
  ref: RawRef;
  row: string;
}

/** Append at the tail, drop at the head, read newest-first; amortised O(1) without a ring buffer's index math. */
class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(v: T): void {
    this.items.push(v);
  }

  peekOldest(): T | undefined {
    return this.items[this.head];
  }

  dropOldest(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  *newestFirst(): IterableIterator<T> {
    for (let i = this.items.length - 1; i >= this.head; i--) yield this.items[i] as T;
  }
}

/** Object from name/value pairs without letting a `__proto__` key reach the prototype setter. */
function toRecord(entries: Iterable<[string, string | null]>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [k, v] of entries) {
    if (k === '__proto__')
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

/** Joda `DateTime.toString` in UTC, which Micro uses for collector contexts: always three fraction digits. */
function jodaIso(ms: number | null): string | null {
  if (ms === null || !Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function rawEventToJson(raw: RawEvent): RawEventJson {
  return {
    api: { vendor: raw.vendor, version: raw.version },
    parameters: toRecord(raw.parameters),
    contentType: raw.contentType,
    source: { name: raw.loaderName, encoding: raw.encoding, hostname: raw.hostname },
    context: {
      timestamp: jodaIso(raw.timestamp),
      ipAddress: raw.ipAddress,
      useragent: raw.useragent,
      refererUri: raw.refererUri,
      headers: raw.headers.slice(),
      userId: raw.userId,
    },
  };
}

const API_PATH_RE = /^\/?([^/]+)\/([^/]+)\/?$/;
const TP1_PATH_RE = /^\/(?:i|ice\.png)(?:$|[?/])/;

/** Enrich's path → (vendor, version) rule; null for paths it rejects. */
export function apiFromPath(path: string | undefined): ApiJson | null {
  if (path === undefined) return null;
  if (TP1_PATH_RE.test(path)) return { vendor: 'com.snowplowanalytics.snowplow', version: 'tp1' };
  const m = API_PATH_RE.exec(path);
  return m === null ? null : { vendor: m[1], version: m[2] };
}

/**
 * Micro's CollectorPayload JSON. Null when enrich could not have built one (no recognisable API path), which
 * is what Micro shows for payloads that failed to load.
 */
export function collectorPayloadToJson(
  p: CollectorPayload,
  raw: RawEvent | null,
): CollectorPayloadJson | null {
  const api = raw !== null ? { vendor: raw.vendor, version: raw.version } : apiFromPath(p.path);
  if (api === null) return null;
  let querystring: string[] = [];
  if (p.querystring !== undefined && p.querystring !== '') {
    try {
      // Micro prints each Apache NameValuePair as `${name}=${value}`, so a bare name becomes `name=null`.
      querystring = parseQueryString(p.querystring, p.encoding).map(
        ([k, v]) => `${k}=${v === null ? 'null' : v}`,
      );
    } catch {
      querystring = [];
    }
  }
  return {
    api,
    querystring,
    contentType: p.contentType ?? null,
    body: p.body ?? null,
    source: { name: p.collector, encoding: p.encoding, hostname: p.hostname ?? null },
    context: {
      timestamp: jodaIso(p.timestamp),
      ipAddress: p.ipAddress ?? null,
      useragent: p.userAgent ?? null,
      refererUri: p.refererUri ?? null,
      headers: p.headers ? p.headers.slice() : [],
      userId: p.networkUserId ?? null,
    },
  };
}

function badEventJson(payload: CollectorPayload | null, raw: RawEvent | null, row: string): BadEventJson {
  return {
    collectorPayload: payload === null ? null : collectorPayloadToJson(payload, raw),
    rawEvent: raw === null ? null : rawEventToJson(raw),
    errors: [raw === null ? EXTRACTION_ERROR : VALIDATION_ERROR, row],
  };
}

function isComplexColumn(column: string): boolean {
  return column.startsWith('contexts_') || column.startsWith('unstruct_event');
}

/** How a lossy-event column compares and filters: strings as they are, other JSON as JSON text, null as null. */
function renderColumn(event: Record<string, unknown>, column: string): string | null {
  if (!Object.hasOwn(event, column)) return null;
  const v = event[column];
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export class MicroStore {
  readonly maxEvents: number;
  private readonly source: RawSource | undefined;
  private readonly goodEvents = new Deque<GoodRecord>();
  private readonly badEvents = new Deque<BadRecord>();
  private seq = 0;
  private incompleteCount = 0;
  private droppedCount = 0;

  constructor(opts: MicroStoreOptions = {}) {
    const max = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxEvents must be a positive integer, got ${max}`);
    this.maxEvents = max;
    this.source = opts.source;
  }

  /**
   * Stores an enriched event. `incomplete` marks a partially enriched event of a failure (Micro shows it only
   * in `/micro/events`, as a failed event). Throws `EnrichedLineError` for a line without 131 fields.
   */
  addGood(raw: RawEvent, tsvLine: string, opts: { incomplete?: boolean } = {}): void {
    this.pushGood(rawEventToJson(raw), tsvLine, opts.incomplete === true);
  }

  /**
   * `addGood` with the raw event already as `JSON.stringify(rawEventToJson(raw))`, which is how enrich
   * worker threads hand it over (a string crosses threads far cheaper than a structured clone of the
   * event and its parameter Map).
   */
  addGoodSerialized(rawEventJson: string, tsvLine: string): void {
    this.pushGood(rawEventJson, tsvLine, false);
  }

  /**
   * `addGood` with only where the raw event came from: the raw-stream record (kept as given, so not a view
   * on a whole batch's buffer) and the index of the event in its adapter's output. The raw event is rebuilt
   * through the store's `source` when a query returns it.
   */
  addGoodRef(record: Uint8Array, event: number, tsvLine: string): void {
    this.pushGood(new RawRef(record, event), tsvLine, false);
  }

  /** `addBad` by reference as in `addGoodRef`; `event` -1 for a failure of the whole record. */
  addBadRef(record: Uint8Array, event: number, badRowJson: string): void {
    this.badEvents.push({ seq: this.seq++, json: { ref: new RawRef(record, event), row: badRowJson } });
    this.enforceBound();
  }

  private pushGood(raw: RawEventJson | string | RawRef, line: string, incomplete: boolean): void {
    checkFieldCount(line);
    this.goodEvents.push({ seq: this.seq++, line, raw, incomplete });
    if (incomplete) this.incompleteCount++;
    this.enforceBound();
  }

  /**
   * Stores a failure. `raw` is null when no raw event could be extracted (adapter, tracker-protocol and
   * payload-format failures), which selects Micro's extraction headline instead of the validation one.
   */
  addBad(payload: CollectorPayload | null, raw: RawEvent | null, badRowJson: string): void {
    this.badEvents.push({ seq: this.seq++, json: badEventJson(payload, raw, badRowJson) });
    this.enforceBound();
  }

  reset(): void {
    this.goodEvents.clear();
    this.badEvents.clear();
    this.incompleteCount = 0;
  }

  private enforceBound(): void {
    while (this.goodEvents.length + this.badEvents.length > this.maxEvents) {
      const g = this.goodEvents.peekOldest();
      const b = this.badEvents.peekOldest();
      if (g !== undefined && (b === undefined || g.seq < b.seq)) {
        this.goodEvents.dropOldest();
        if (g.incomplete) this.incompleteCount--;
      } else {
        this.badEvents.dropOldest();
      }
      this.droppedCount++;
    }
  }

  /** `/micro/all`: incomplete events count neither as good nor as bad. */
  summary(): Summary {
    const good = this.goodEvents.length - this.incompleteCount;
    const bad = this.badEvents.length;
    return { total: good + bad, good, bad };
  }

  stats(): MicroStats {
    return {
      good: this.goodEvents.length,
      incomplete: this.incompleteCount,
      bad: this.badEvents.length,
      dropped: this.droppedCount,
    };
  }

  private async rawJson(r: GoodRecord, rebuilds: Rebuilds): Promise<RawEventJson> {
    const raw = r.raw;
    if (typeof raw === 'string') return JSON.parse(raw) as RawEventJson;
    if (!(raw instanceof RawRef)) return raw;
    const json = rawEventToJson(await rebuilds.raw(raw));
    r.raw = JSON.stringify(json);
    return json;
  }

  private async badJson(r: BadRecord, rebuilds: Rebuilds): Promise<BadEventJson> {
    const stored = r.json;
    if (!('ref' in stored)) return stored;
    const payload = rebuilds.payload(stored.ref.bytes);
    const raw = stored.ref.event < 0 ? null : await rebuilds.raw(stored.ref);
    const json = badEventJson(payload, raw, stored.row);
    // Another query may have built it meanwhile; either answer is the same.
    r.json = json;
    return json;
  }

  private async toGoodJson(
    r: GoodRecord,
    m: GoodMeta,
    contexts: string[],
    rebuilds: Rebuilds,
  ): Promise<GoodEventJson> {
    return {
      rawEvent: await this.rawJson(r, rebuilds),
      eventType: m.eventType,
      schema: m.schema,
      contexts,
      event: canonicalFromFields(m.fields),
      incomplete: r.incomplete,
    };
  }

  /** `/micro/good`: complete events matching every given filter, newest first, the first `limit` of them. */
  async good(filters: GoodFilters = {}): Promise<GoodEventJson[]> {
    const { event_type, schema, contexts, limit } = filters;
    if (limit !== undefined && limit <= 0) return [];
    const rebuilds = new Rebuilds(this.source);
    const out: GoodEventJson[] = [];
    for (const r of this.goodEvents.newestFirst()) {
      if (r.incomplete) continue;
      const m = goodMeta(r);
      if (event_type !== undefined && m.eventType !== event_type) continue;
      if (schema !== undefined && m.schema !== schema) continue;
      const schemas = contextSchemas(m.fields);
      if (contexts !== undefined && !contexts.every((c) => schemas.includes(c))) continue;
      out.push(await this.toGoodJson(r, m, schemas, rebuilds));
      if (limit !== undefined && out.length >= limit) break;
    }
    return out;
  }

  /** `/micro/bad`: vendor/version match the collector payload's API; events without a payload always pass. */
  async bad(filters: BadFilters = {}): Promise<BadEventJson[]> {
    const { vendor, version, limit } = filters;
    if (limit !== undefined && limit <= 0) return [];
    const rebuilds = new Rebuilds(this.source);
    const out: BadEventJson[] = [];
    for (const r of this.badEvents.newestFirst()) {
      const json = await this.badJson(r, rebuilds);
      const cp = json.collectorPayload;
      if (cp !== null) {
        if (vendor !== undefined && cp.api.vendor !== vendor) continue;
        if (version !== undefined && cp.api.version !== version) continue;
      }
      out.push(json);
      if (limit !== undefined && out.length >= limit) break;
    }
    return out;
  }

  /** `GET /micro/events` (Micro 3.x): good and incomplete events as lossy JSON, newest first. */
  lossyEvents(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const r of this.goodEvents.newestFirst()) out.push(lossyFromFields(splitEnrichedLine(r.line)));
    return out;
  }

  /** `POST /micro/events` (Micro 4.x): filtered, sorted, paginated lossy events. */
  queryEvents(req: EventsRequest): EventsResponse {
    const valid = req.validEvents ?? null;
    const start = req.timeRange?.start ?? null;
    const end = req.timeRange?.end ?? null;
    const filters = req.filters
      .filter((f) => !isComplexColumn(f.column))
      .map((f) => ({
        column: f.column,
        values: f.values.filter((v) => v !== '').map((v) => v.toLowerCase()),
      }))
      .filter((f) => f.values.length > 0);
    let events: Record<string, unknown>[] = [];
    for (const r of this.goodEvents.newestFirst()) {
      if (valid !== null && valid === r.incomplete) continue;
      if (start !== null || end !== null) {
        const t = collectorMsOf(r.line);
        if (start !== null && (t === null || t < start)) continue;
        if (end !== null && (t === null || t >= end)) continue;
      }
      const ev = lossyFromFields(splitEnrichedLine(r.line));
      let keep = true;
      for (const f of filters) {
        const v = renderColumn(ev, f.column);
        if (v === null || !f.values.includes(v.toLowerCase())) {
          keep = false;
          break;
        }
      }
      if (keep) events.push(ev);
    }
    const sorting = req.sorting ?? null;
    if (sorting !== null && !isComplexColumn(sorting.column)) {
      const col = sorting.column;
      const dir = sorting.desc ? -1 : 1;
      const keyed = events.map((ev) => ({ ev, key: renderColumn(ev, col) }));
      // Array.prototype.sort is stable, so equal keys keep newest-first order. Nulls go last ascending
      // and first descending: the descending order is the exact reverse comparison.
      keyed.sort((a, b) => {
        if (a.key === b.key) return 0;
        if (a.key === null) return dir;
        if (b.key === null) return -dir;
        return a.key < b.key ? -dir : dir;
      });
      events = keyed.map((k) => k.ev);
    }
    const totalItems = events.length;
    const totalPages = Math.max(1, Math.ceil(totalItems / req.pageSize));
    const from = (req.page - 1) * req.pageSize;
    return {
      events: from < totalItems ? events.slice(from, from + req.pageSize) : [],
      totalPages,
      totalItems,
    };
  }

  /** `/micro/columns`: every key of the stored lossy events, entity/event fields as `<column>.<field>`, sorted. */
  columns(): string[] {
    const names = new Set<string>();
    for (const r of this.goodEvents.newestFirst()) {
      const ev = lossyFromFields(splitEnrichedLine(r.line));
      for (const [k, v] of Object.entries(ev)) {
        names.add(k);
        if (k.startsWith('contexts_') && Array.isArray(v)) {
          for (const item of v) {
            if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
              for (const field of Object.keys(item)) names.add(`${k}.${field}`);
            }
          }
        } else if (
          k.startsWith('unstruct_event') &&
          typeof v === 'object' &&
          v !== null &&
          !Array.isArray(v)
        ) {
          for (const field of Object.keys(v)) names.add(`${k}.${field}`);
        }
      }
    }
    return [...names].sort();
  }

  /**
   * `/micro/columnStats`: entity/event columns are neither sortable nor filterable, timestamps are sortable
   * only; filterable columns list up to 20 distinct non-null values, newest events first.
   */
  columnStats(columns: readonly string[]): Record<string, ColumnStats> {
    const events = this.lossyEvents();
    const out: Record<string, ColumnStats> = {};
    for (const column of columns) {
      const complex = isComplexColumn(column);
      const filterable = !complex && !column.endsWith('_tstamp');
      let values: string[] | null = null;
      if (filterable) {
        const distinct = new Set<string>();
        for (const ev of events) {
          const v = renderColumn(ev, column);
          if (v !== null) distinct.add(v);
          if (distinct.size >= 20) break;
        }
        values = [...distinct];
      }
      const stats: ColumnStats = { sortable: !complex, filterable, values };
      if (column === '__proto__') {
        Object.defineProperty(out, column, {
          value: stats,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else out[column] = stats;
    }
    return out;
  }

  /** `/micro/timeline`: good (valid) and incomplete (failed) events per bucket, by `collector_tstamp`. */
  timeline(buckets: readonly TimelineBucket[]): TimelineCount[] {
    const counts = buckets.map(() => ({ validEvents: 0, failedEvents: 0 }));
    for (const r of this.goodEvents.newestFirst()) {
      const t = collectorMsOf(r.line);
      if (t === null) continue;
      for (let i = 0; i < buckets.length; i++) {
        if (t >= buckets[i].start && t < buckets[i].end) {
          if (r.incomplete) counts[i].failedEvents++;
          else counts[i].validEvents++;
        }
      }
    }
    return counts;
  }
}
