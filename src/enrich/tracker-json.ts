/**
 * Phase 1 (continued): the self-describing event (`ue_pr`/`ue_px`) and entities (`co`/`cx`) sent by the
 * tracker are parsed, checked to be self-describing wrappers of the right kind, and validated through
 * Iglu entity by entity (Snowplow's `IgluUtils.extractAndValidateInputJsons`). Invalid entities are
 * dropped individually and reported; valid ones are kept on the event.
 */

import { parseSelfDescribing } from '../iglu/schema-key.js';
import type { CheckResult, Resolver } from '../iglu/types.js';
import { parseBoundedJson } from '../protocol/bounded-json.js';
import type { EnrichedEvent, SelfDescribingJson } from './event.js';

export type SchemaViolation = Record<string, unknown>;

const UNSTRUCT_CRITERION = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-*';
const CONTEXTS_CRITERION = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-*';
const UNSTRUCT_WRAPPER = /^iglu:com\.snowplowanalytics\.snowplow\/unstruct_event\/jsonschema\/1-0-\d+$/;
const CONTEXTS_WRAPPER = /^iglu:com\.snowplowanalytics\.snowplow\/contexts\/jsonschema\/1-0-\d+$/;
const VALIDATION_INFO = 'iglu:com.snowplowanalytics.iglu/validation_info/jsonschema/1-0-0';

/** Replaces the version of a superseded schema key and records the substitution on the event. */
export function usedSchema(ev: EnrichedEvent, schema: string, r: CheckResult): string {
  if (!r.ok || r.supersededBy === undefined) return schema;
  const used = schema.slice(0, schema.lastIndexOf('/') + 1) + r.supersededBy;
  if (!ev.validationInfo.some((e) => (e.data as { originalSchema: string }).originalSchema === schema)) {
    ev.validationInfo.push({
      schema: VALIDATION_INFO,
      data: { originalSchema: schema, validatedWith: r.supersededBy },
    });
  }
  return used;
}

function wrapper(
  field: 'unstruct' | 'contexts',
  text: string,
  maxDepth: number,
  violations: SchemaViolation[],
): { schema: string; data: unknown } | null {
  const parsed = parseBoundedJson(text, maxDepth);
  if (!parsed.ok) {
    violations.push({ field, value: text, error: parsed.error });
    return null;
  }
  const sd = parseSelfDescribing(parsed.value);
  if (!sd.ok) {
    violations.push({ json: parsed.value, error: sd.error });
    return null;
  }
  const schema = (parsed.value as { schema: string }).schema;
  const [pattern, criterion] =
    field === 'unstruct' ? [UNSTRUCT_WRAPPER, UNSTRUCT_CRITERION] : [CONTEXTS_WRAPPER, CONTEXTS_CRITERION];
  if (!pattern.test(schema)) {
    violations.push({ schemaKey: schema, schemaCriterion: criterion });
    return null;
  }
  return { schema, data: sd.data };
}

/*
 * The functions below return a plain value when every schema was answered from the resolver's cache
 * (the warm path: no promise or microtask per entity, which measurably cost CPU per event), and a promise
 * only from the first check that had to ask Iglu. Checks still run one after another in document order,
 * so violations are reported in the same order either way.
 */

type Maybe<T> = T | Promise<T>;

function entityResult(
  ev: EnrichedEvent,
  schema: string,
  data: unknown,
  r: CheckResult,
  violations: SchemaViolation[],
): SelfDescribingJson | null {
  if (!r.ok) {
    violations.push({ schemaKey: schema, error: r.error });
    return null;
  }
  return { schema: usedSchema(ev, schema, r), data };
}

/** Validates one entity; returns it (with its schema possibly superseded) or null after reporting. */
function validEntity(
  ev: EnrichedEvent,
  resolver: Resolver,
  entity: unknown,
  violations: SchemaViolation[],
): Maybe<SelfDescribingJson | null> {
  const sd = parseSelfDescribing(entity);
  if (!sd.ok) {
    violations.push({ json: entity, error: sd.error });
    return null;
  }
  const schema = (entity as { schema: string }).schema;
  const data = sd.data;
  const r = resolver.check(schema, data);
  return r instanceof Promise
    ? r.then((res) => entityResult(ev, schema, data, res, violations))
    : entityResult(ev, schema, data, r, violations);
}

/** Validates `entities[from…]` in order, handing each valid one (or null) to `keep`. */
function validEntities(
  ev: EnrichedEvent,
  resolver: Resolver,
  entities: readonly unknown[],
  from: number,
  violations: SchemaViolation[],
  keep: (e: SelfDescribingJson) => void,
): Maybe<void> {
  for (let i = from; i < entities.length; i++) {
    const valid = validEntity(ev, resolver, entities[i], violations);
    if (valid instanceof Promise) {
      return valid.then((v) => {
        if (v !== null) keep(v);
        return validEntities(ev, resolver, entities, i + 1, violations, keep);
      });
    }
    if (valid !== null) keep(valid);
  }
}

/** The wrapper validates against its own schema first; `then` runs only when it is valid. */
function checkWrapper(
  resolver: Resolver,
  w: { schema: string; data: unknown },
  violations: SchemaViolation[],
  then: () => Maybe<void>,
): Maybe<void> {
  const after = (r: CheckResult): Maybe<void> => {
    if (!r.ok) violations.push({ schemaKey: w.schema, error: r.error });
    else return then();
  };
  const r = resolver.check(w.schema, w.data);
  return r instanceof Promise ? r.then(after) : after(r);
}

function validateContexts(
  ev: EnrichedEvent,
  resolver: Resolver,
  contextsText: string | null,
  maxDepth: number,
  violations: SchemaViolation[],
): Maybe<void> {
  if (contextsText === null) return;
  const w = wrapper('contexts', contextsText, maxDepth, violations);
  if (w === null) return;
  return checkWrapper(resolver, w, violations, () =>
    validEntities(ev, resolver, w.data as unknown[], 0, violations, (e) => ev.contexts.push(e)),
  );
}

export function validateTrackerJson(
  ev: EnrichedEvent,
  resolver: Resolver,
  unstructText: string | null,
  contextsText: string | null,
  maxDepth: number,
  violations: SchemaViolation[],
): Maybe<void> {
  if (unstructText !== null) {
    const w = wrapper('unstruct', unstructText, maxDepth, violations);
    if (w !== null) {
      const done = checkWrapper(resolver, w, violations, () => {
        const e = validEntity(ev, resolver, w.data, violations);
        if (!(e instanceof Promise)) {
          ev.unstruct = e;
          return;
        }
        return e.then((v) => {
          ev.unstruct = v;
        });
      });
      if (done instanceof Promise)
        return done.then(() => validateContexts(ev, resolver, contextsText, maxDepth, violations));
    }
  }
  return validateContexts(ev, resolver, contextsText, maxDepth, violations);
}

/** Phase 3: tracker JSON replaced by an enrichment is validated again; invalid parts are dropped. */
export async function revalidateReplaced(
  ev: EnrichedEvent,
  resolver: Resolver,
  violations: SchemaViolation[],
): Promise<void> {
  if (ev.revalidate.unstruct && ev.unstruct !== null) {
    ev.unstruct = await validEntity(
      ev,
      resolver,
      { schema: ev.unstruct.schema, data: ev.unstruct.data },
      violations,
    );
  }
  if (ev.revalidate.contexts && ev.contexts.length > 0) {
    const kept: SelfDescribingJson[] = [];
    for (const entity of ev.contexts) {
      const valid = await validEntity(ev, resolver, { schema: entity.schema, data: entity.data }, violations);
      if (valid !== null) kept.push(valid);
    }
    ev.contexts = kept;
  }
}

/** Phase 3: entities produced by enrichments must validate too; invalid ones are dropped. */
export function validateDerived(
  ev: EnrichedEvent,
  resolver: Resolver,
  violations: SchemaViolation[],
): Maybe<void> {
  if (ev.derived.length === 0) return;
  const kept: SelfDescribingJson[] = [];
  const done = validEntities(ev, resolver, ev.derived, 0, violations, (e) => kept.push(e));
  if (done instanceof Promise)
    return done.then(() => {
      ev.derived = kept;
    });
  ev.derived = kept;
}
