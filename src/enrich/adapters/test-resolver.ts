/**
 * TEST HELPER (not a test file, not for production): a `Resolver` that reads schemas straight from an Iglu
 * Central checkout (`../shared/iglu-central/schemas` from the repo root) and validates with Ajv draft-04.
 * Report texts only approximate Snowplow's; adapter tests assert shapes (`schemaKey`, `error.error`,
 * `targets`). Kept in one file so the adapter tests can switch to the real resolver in one place.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ErrorObject } from 'ajv-draft-04';
import AjvModule from 'ajv-draft-04';
import type { CheckResult, DataReport, IgluClientError, Resolver } from '../../iglu/types.js';

type AjvClass = typeof AjvModule.default;
const Ajv: AjvClass = ((AjvModule as unknown as { default?: AjvClass }).default ??
  AjvModule) as unknown as AjvClass;

export const SHARED_SCHEMAS_DIR = resolve(process.cwd(), '../shared/iglu-central/schemas');

/**
 * `undefined` when the Iglu Central checkout is present; otherwise the reason to skip. Under `CI=true` a
 * missing checkout is an error, so CI cannot go green by skipping.
 */
export function sharedSchemasSkipReason(): string | undefined {
  if (existsSync(SHARED_SCHEMAS_DIR)) return undefined;
  const reason = `Iglu Central schemas not found at ${SHARED_SCHEMAS_DIR} (run tests from the repo root next to ../shared)`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.log(`# skipped: ${reason}`);
  return reason;
}

const URI = /^iglu:([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)$/;

function jsonPath(instancePath: string): string {
  if (instancePath === '') return '$';
  let out = '$';
  for (const seg of instancePath.slice(1).split('/')) {
    const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(s) ? `[${s}]` : `.${s}`;
  }
  return out;
}

function toReport(e: ErrorObject): DataReport {
  const path = jsonPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const prop = String(params.missingProperty);
      return {
        message: `${path}.${prop}: is missing but it is required`,
        path,
        keyword: 'required',
        targets: [prop],
      };
    }
    case 'additionalProperties': {
      const prop = String(params.additionalProperty);
      return {
        message: `${path}.${prop}: is not defined in the schema and the schema does not allow additional properties`,
        path,
        keyword: 'additionalProperties',
        targets: [prop],
      };
    }
    default:
      return { message: `${path}: ${e.message ?? e.keyword}`, path, keyword: e.keyword, targets: [] };
  }
}

export interface TestResolverOptions {
  /** answer every check with a promise, like a resolver whose cache is cold */
  async?: boolean;
}

export class DirectoryResolver implements Resolver {
  private readonly ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false, logger: false });
  private readonly validators = new Map<string, ReturnType<InstanceType<AjvClass>['compile']> | null>();

  constructor(
    private readonly dir: string = SHARED_SCHEMAS_DIR,
    private readonly options: TestResolverOptions = {},
  ) {}

  private readSchema(schemaUri: string): Record<string, unknown> | null {
    const m = URI.exec(schemaUri);
    if (m === null) return null;
    const file = join(this.dir, m[1], m[2], m[3], m[4]);
    if (!existsSync(file)) return null;
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  }

  private notFound(): IgluClientError {
    return {
      error: 'ResolutionError',
      lookupHistory: [
        {
          repository: 'Iglu Central (test directory)',
          errors: [{ error: 'NotFound' }],
          attempts: 1,
          lastAttempt: new Date(0).toISOString(),
        },
      ],
    };
  }

  private checkSync(schemaUri: string, data: unknown): CheckResult {
    let validate = this.validators.get(schemaUri);
    if (validate === undefined) {
      const doc = this.readSchema(schemaUri);
      if (doc === null) validate = null;
      else {
        // The Iglu meta-schema URI is unknown to Ajv; `self` is ignored with strict off.
        const { $schema: _ignored, ...schema } = doc;
        validate = this.ajv.compile(schema);
      }
      this.validators.set(schemaUri, validate);
    }
    if (validate === null) return { ok: false, error: this.notFound() };
    if (validate(data)) return { ok: true };
    return {
      ok: false,
      error: { error: 'ValidationError', dataReports: (validate.errors ?? []).map(toReport) },
    };
  }

  check(schemaUri: string, data: unknown): CheckResult | Promise<CheckResult> {
    const res = this.checkSync(schemaUri, data);
    return this.options.async ? Promise.resolve(res) : res;
  }

  async lookupSchema(
    schemaUri: string,
  ): Promise<{ ok: true; schema: Record<string, unknown> } | { ok: false; error: IgluClientError }> {
    const doc = this.readSchema(schemaUri);
    return doc === null ? { ok: false, error: this.notFound() } : { ok: true, schema: doc };
  }
}
