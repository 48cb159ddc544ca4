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

/** Validates `data` against `schema`, awaiting only when Iglu has to be asked (the warm path is sync). */
async function checkAsync(resolver: Resolver, schema: string, data: unknown): Promise<CheckResult> {
  const r = resolver.check(schema, data);
  return r instanceof Promise ? await r : r;
}

/** Validates one entity; returns it (with its schema possibly superseded) or null after reporting. */
async function validEntity(
  ev: EnrichedEvent,
  resolver: Resolver,
  entity: unknown,
  violations: SchemaViolation[],
): Promise<SelfDescribingJson | null> {
  const sd = parseSelfDescribing(entity);
  if (!sd.ok) {
    violations.push({ json: entity, error: sd.error });
    return null;
  }
  const schema = (entity as { schema: string }).schema;
  let r = resolver.check(schema, sd.data);
  if (r instanceof Promise) r = await r;
  if (!r.ok) {
    violations.push({ schemaKey: schema, error: r.error });
    return null;
  }
  return { schema: usedSchema(ev, schema, r), data: sd.data };
}

export async function validateTrackerJson(
  ev: EnrichedEvent,
  resolver: Resolver,
  unstructText: string | null,
  contextsText: string | null,
  maxDepth: number,
  violations: SchemaViolation[],
): Promise<void> {
  if (unstructText !== null) {
    const w = wrapper('unstruct', unstructText, maxDepth, violations);
    if (w !== null) {
      const r = await checkAsync(resolver, w.schema, w.data);
      if (!r.ok) violations.push({ schemaKey: w.schema, error: r.error });
      else ev.unstruct = await validEntity(ev, resolver, w.data, violations);
    }
  }
  if (contextsText !== null) {
    const w = wrapper('contexts', contextsText, maxDepth, violations);
    if (w !== null) {
      const r = await checkAsync(resolver, w.schema, w.data);
      if (!r.ok) violations.push({ schemaKey: w.schema, error: r.error });
      else {
        for (const entity of w.data as unknown[]) {
          const valid = await validEntity(ev, resolver, entity, violations);
          if (valid !== null) ev.contexts.push(valid);
        }
      }
    }
  }
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
export async function validateDerived(
  ev: EnrichedEvent,
  resolver: Resolver,
  violations: SchemaViolation[],
): Promise<void> {
  if (ev.derived.length === 0) return;
  const kept: SelfDescribingJson[] = [];
  for (const entity of ev.derived) {
    const valid = await validEntity(ev, resolver, entity, violations);
    if (valid !== null) kept.push(valid);
  }
  ev.derived = kept;
}
