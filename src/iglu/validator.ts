/**
 * JSON Schema draft-04 validation of Iglu data, with Snowplow's report shape.
 *
 * Snowplow validates with networknt's json-schema-validator and writes its messages into bad rows
 * (`$.sku: is missing but it is required`). Tools downstream match on those texts, so Ajv's errors
 * are rewritten into the same wording (the templates Snowplow froze at networknt 1.0.76), the same
 * `targets` (the message arguments), and the same order: networknt walks a schema's keywords in
 * alphabetical order, properties in schema order, array items in index order.
 *
 * @example
 * const v = createSchemaValidator();
 * const c = v.compile(schemaDoc);            // once per schema
 * if (c.ok) c.validate(data);                // null when valid, else DataReport[]
 */

import type { ErrorObject, Options } from 'ajv-draft-04';
import AjvModule from 'ajv-draft-04';
import { FORMATS } from './formats.js';
import type { DataReport } from './types.js';

// ajv-draft-04 is CommonJS with `module.exports = Ajv` plus a `default` property; under NodeNext the
// default import is typed as the module object, so take the class from whichever shape arrives.
type AjvClass = typeof AjvModule.default;
const Ajv: AjvClass = ((AjvModule as unknown as { default?: AjvClass }).default ??
  AjvModule) as unknown as AjvClass;
type AjvInstance = InstanceType<AjvClass>;

export const IGLU_META_SCHEMA_URI =
  'http://iglucentral.com/schemas/com.snowplowanalytics.self-desc/schema/jsonschema/1-0-0#';
const DRAFT_04_URI = 'http://json-schema.org/draft-04/schema#';

// The self-describing meta-schema (spec §4.2): draft-04 plus a required, closed `self` block.
const IGLU_META_SCHEMA = {
  id: IGLU_META_SCHEMA_URI,
  $schema: DRAFT_04_URI,
  allOf: [
    {
      properties: {
        self: {
          type: 'object',
          properties: {
            vendor: { type: 'string', pattern: '^[a-zA-Z0-9-_.]+$' },
            name: { type: 'string', pattern: '^[a-zA-Z0-9-_]+$' },
            format: { type: 'string', pattern: '^[a-zA-Z0-9-_]+$' },
            version: { type: 'string', pattern: '^[0-9]+-[0-9]+-[0-9]+$' },
          },
          required: ['vendor', 'name', 'format', 'version'],
          additionalProperties: false,
        },
      },
      required: ['self'],
    },
    { $ref: DRAFT_04_URI },
  ],
};

export type ValidateData = (data: unknown) => DataReport[] | null;

export type CompileResult = { ok: true; validate: ValidateData } | { ok: false; message: string };

export interface SchemaValidator {
  /** Compiles a schema document; an invalid document is a result, not a throw. */
  compile(schema: Record<string, unknown>): CompileResult;
  /** Drops what Ajv keeps for a schema compiled earlier (call when its cache entry is evicted). */
  release(schema: Record<string, unknown>): void;
}

export function createSchemaValidator(): SchemaValidator {
  const options: Options = {
    allErrors: true,
    strict: false,
    // error objects carry the failing value and sub-schema, which the messages quote
    verbose: true,
    logger: false,
    // Iglu schemas may carry `id`s; registering them globally would make a second schema with the
    // same id (another version, a refreshed copy) fail to compile.
    addUsedSchema: false,
    // Schema patterns are written for Java regexes, which accept escapes that unicode-mode JS rejects.
    unicodeRegExp: false,
  };
  const ajv: AjvInstance = new Ajv(options);
  // Annotation keywords: accepted and ignored by validation.
  for (const keyword of ['self', '$supersedes', '$supersededBy']) ajv.addKeyword({ keyword });
  for (const [name, f] of Object.entries(FORMATS))
    ajv.addFormat(name, { type: 'string', validate: f.validate });
  ajv.addMetaSchema(IGLU_META_SCHEMA);

  return {
    compile(schema) {
      let fn: ReturnType<AjvInstance['compile']>;
      try {
        fn = ajv.compile(schema);
      } catch (e) {
        return { ok: false, message: (e as Error).message };
      }
      return {
        ok: true,
        validate(data) {
          if (fn(data)) return null;
          return toDataReports(fn.errors ?? [], data, schema);
        },
      };
    },
    release(schema) {
      ajv.removeSchema(schema);
    },
  };
}

/** Maps Ajv errors (with `verbose: true`) to Snowplow reports, in networknt's order. */
export function toDataReports(
  errors: readonly ErrorObject[],
  data: unknown,
  schema: Record<string, unknown>,
): DataReport[] {
  const keyed = errors.map((e, i) => ({ e, i, key: sortKey(e, schema, data) }));
  keyed.sort((a, b) => compareKeys(a.key, b.key) || a.i - b.i);
  const out: DataReport[] = [];
  for (const { e } of keyed) {
    const r = report(e, data);
    if (Array.isArray(r)) out.push(...r);
    else if (r !== null) out.push(r);
  }
  return out;
}

// ---- messages -------------------------------------------------------------------------------------

function report(e: ErrorObject, root: unknown): DataReport | DataReport[] | null {
  const path = jsonPath(e.instancePath, root);
  const p = e.params as Record<string, unknown>;
  const push = (message: string, targets: string[], keyword = e.keyword, at = path): DataReport => ({
    message,
    path: at,
    keyword,
    targets,
  });
  switch (e.keyword) {
    case 'required': {
      const prop = String(p.missingProperty);
      return push(`${path}.${prop}: is missing but it is required`, [prop]);
    }
    case 'additionalProperties': {
      const prop = String(p.additionalProperty);
      return push(
        `${path}.${prop}: is not defined in the schema and the schema does not allow additional properties`,
        [prop],
      );
    }
    case 'type': {
      const found = jsonType(e.data);
      const expected = p.type;
      if (Array.isArray(expected)) {
        const union = `[${expected.join(', ')}]`;
        return push(`${path}: ${found} found, but ${union} is required`, [found, union]);
      }
      return push(`${path}: ${found} found, ${String(expected)} expected`, [found, String(expected)]);
    }
    case 'maxLength':
      return push(`${path}: may only be ${p.limit} characters long`, [String(p.limit)]);
    case 'minLength':
      return push(`${path}: must be at least ${p.limit} characters long`, [String(p.limit)]);
    case 'maxItems':
      return push(`${path}: there must be a maximum of ${p.limit} items in the array`, [String(p.limit)]);
    case 'minItems':
      return push(`${path}: there must be a minimum of ${p.limit} items in the array`, [String(p.limit)]);
    case 'maxProperties':
      return push(`${path}: may only have a maximum of ${p.limit} properties`, [String(p.limit)]);
    case 'minProperties':
      return push(`${path}: should have a minimum of ${p.limit} properties`, [String(p.limit)]);
    case 'maximum':
    case 'exclusiveMaximum':
      return push(`${path}: must have a maximum value of ${p.limit}`, [String(p.limit)], 'maximum');
    case 'minimum':
    case 'exclusiveMinimum':
      return push(`${path}: must have a minimum value of ${p.limit}`, [String(p.limit)], 'minimum');
    case 'multipleOf':
      return push(`${path}: must be multiple of ${p.multipleOf}`, [String(p.multipleOf)]);
    case 'pattern':
      return push(`${path}: does not match the regex pattern ${p.pattern}`, [String(p.pattern)]);
    case 'format': {
      const name = String(p.format);
      const f = FORMATS[name];
      if (f?.valueMessage) {
        const value = String(e.data);
        return push(`${path}: ${value} is an invalid ${name}`, [value, name]);
      }
      const pattern = f?.pattern ?? '';
      return push(`${path}: does not match the ${name} pattern ${pattern}`.trimEnd(), [name, pattern]);
    }
    case 'enum': {
      const list = `[${(p.allowedValues as unknown[]).map(plain).join(', ')}]`;
      return push(`${path}: does not have a value in the enumeration ${list}`, [list]);
    }
    case 'uniqueItems':
      return push(`${path}: the items in the array must be unique`, []);
    case 'dependencies': {
      const deps = `[${(p.deps as string).split(', ').join(', ')}]`;
      return push(`${path}: has an error with dependencies {${p.property}=${deps}}`, [
        String(p.property),
        String(p.missingProperty),
      ]);
    }
    case 'additionalItems': {
      const limit = Number(p.limit);
      const length = Array.isArray(e.data) ? e.data.length : limit + 1;
      const extra: DataReport[] = [];
      for (let i = limit; i < length; i++) {
        extra.push(
          push(`${path}[${i}]: no validator found at this index`, [String(i)], e.keyword, `${path}[${i}]`),
        );
      }
      return extra;
    }
    case 'anyOf': {
      const schemas = JSON.stringify(e.schema);
      return push(`${path}: should be valid to any of the schemas ${schemas}`, [schemas]);
    }
    case 'oneOf': {
      const passing = p.passingSchemas as number[] | null;
      // With no branch valid, the branches' own errors (also reported) say what is wrong.
      if (!Array.isArray(passing)) return null;
      const branches = e.schema as unknown[];
      const valid = passing.map((i) => JSON.stringify(branches[i])).join('');
      return push(
        `${path}: should be valid to one and only one of schema, but more than one are valid: ${valid}`,
        [valid],
      );
    }
    case 'not': {
      const arg = `"not" : ${JSON.stringify(e.schema)}`;
      return push(`${path}: should not be valid to the schema ${arg}`, [arg]);
    }
    default:
      return push(`${path}: ${e.message ?? `failed ${e.keyword}`}`, []);
  }
}

/** networknt's type names: integral numbers are "integer". */
function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Enum values as networknt prints them: strings bare, everything else as JSON. */
function plain(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function pointerSegments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map(unescapePointer);
}

/** JSON Pointer → `$.a.b[0]`; whether a segment is an index depends on the data, so walk it. */
function jsonPath(pointer: string, root: unknown): string {
  let out = '$';
  let cur: unknown = root;
  for (const seg of pointerSegments(pointer)) {
    if (Array.isArray(cur)) {
      out += `[${seg}]`;
      cur = cur[Number(seg)];
    } else {
      out += `.${seg}`;
      cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

// ---- ordering -------------------------------------------------------------------------------------

type Token = string | number;

function keyIndex(obj: unknown, name: string): number {
  return typeof obj === 'object' && obj !== null ? Object.keys(obj).indexOf(name) : -1;
}

function child(node: unknown, ...names: Array<string | number>): unknown {
  let cur = node;
  for (const n of names) {
    cur = typeof cur === 'object' && cur !== null ? (cur as Record<string | number, unknown>)[n] : undefined;
  }
  return cur;
}

/**
 * The position networknt would report an error at: for each schema level the keyword (networknt
 * keeps a level's validators sorted by keyword), then which property (schema order), item (index)
 * or branch the walk went into.
 */
function sortKey(e: ErrorObject, schema: Record<string, unknown>, data: unknown): Token[] {
  const segs = pointerSegments(e.schemaPath.replace(/^#/, ''));
  const inst = pointerSegments(e.instancePath);
  const tokens: Token[] = [];
  let node: unknown = schema;
  let k = 0;
  let i = 0;
  if (segs[0] === 'definitions' && segs.length > 2) {
    // Reached through a $ref: Ajv reports the path inside the definition, not where the $ref sat.
    // Approximate the outer part from the instance path (properties for keys, items for indices).
    node = child(schema, 'definitions', segs[1]);
    const inner = segs.slice(2);
    const consumed = countDescents(inner, node);
    let cur: unknown = data;
    for (const seg of inst.slice(0, inst.length - consumed)) {
      if (Array.isArray(cur)) tokens.push('items', Number(seg));
      else tokens.push('properties', seg);
      cur = child(cur, seg);
    }
    i = inst.length - consumed;
    k = 2;
  }
  while (k < segs.length) {
    const kw = segs[k++];
    tokens.push(kw);
    if (k >= segs.length) break;
    switch (kw) {
      case 'properties': {
        const name = segs[k++];
        tokens.push(keyIndex(child(node, 'properties'), name));
        node = child(node, 'properties', name);
        i++;
        break;
      }
      case 'patternProperties': {
        const pattern = segs[k++];
        tokens.push(keyIndex(child(node, 'patternProperties'), pattern), inst[i] ?? '');
        node = child(node, 'patternProperties', pattern);
        i++;
        break;
      }
      case 'additionalProperties':
        tokens.push(inst[i] ?? '');
        node = child(node, 'additionalProperties');
        i++;
        break;
      case 'items':
        if (Array.isArray(child(node, 'items'))) {
          const n = Number(segs[k++]);
          tokens.push(n);
          node = child(node, 'items', n);
        } else {
          tokens.push(Number(inst[i] ?? 0));
          node = child(node, 'items');
        }
        i++;
        break;
      case 'additionalItems':
        tokens.push(Number(inst[i] ?? 0));
        node = child(node, 'additionalItems');
        i++;
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf': {
        const n = Number(segs[k++]);
        tokens.push(n);
        node = child(node, kw, n);
        break;
      }
      case 'not':
        node = child(node, 'not');
        break;
      case 'dependencies': {
        const name = segs[k++];
        tokens.push(name);
        node = child(node, 'dependencies', name);
        break;
      }
      default:
        tokens.push(...segs.slice(k));
        k = segs.length;
    }
  }
  return tokens;
}

/** How many instance levels a schema path descends (so the rest of the instance path is outside it). */
function countDescents(segs: string[], node: unknown): number {
  let n = 0;
  let k = 0;
  while (k < segs.length - 1) {
    const kw = segs[k++];
    switch (kw) {
      case 'properties':
      case 'patternProperties':
        node = child(node, kw, segs[k++]);
        n++;
        break;
      case 'additionalProperties':
      case 'additionalItems':
        node = child(node, kw);
        n++;
        break;
      case 'items':
        if (Array.isArray(child(node, 'items'))) node = child(node, 'items', Number(segs[k++]));
        else node = child(node, 'items');
        n++;
        break;
      case 'allOf':
      case 'anyOf':
      case 'oneOf':
      case 'dependencies':
        node = child(node, kw, segs[k++]);
        break;
      case 'not':
        node = child(node, 'not');
        break;
      default:
        return n;
    }
  }
  return n;
}

function compareKeys(a: Token[], b: Token[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}
