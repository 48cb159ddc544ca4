/**
 * Collector settings, named and defaulted as Snowplow's collector names them (`collector.*` in its HOCON,
 * spec collector §2.10), so a Snowplow user recognises every key.
 */
import { z } from 'zod';

const sameSite = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(['none', 'lax', 'strict']))
  .transform((s) => (s === 'none' ? 'None' : s === 'lax' ? 'Lax' : 'Strict'));

export const collectorConfigSchema = z
  .strictObject({
    interface: z.string().default('0.0.0.0'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** custom two-segment path → one of the three default paths */
    paths: z
      .record(z.string().regex(/^\/[^/]+\/[^/]+$/, 'a custom path is /vendor/version'), z.string())
      .default({}),
    cookie: z
      .strictObject({
        enabled: z.boolean().default(true),
        name: z.string().min(1).default('sp'),
        expirationDays: z.number().positive().default(365),
        domains: z.array(z.string()).default([]),
        fallbackDomain: z.string().optional(),
        secure: z.boolean().default(true),
        httpOnly: z.boolean().default(true),
        sameSite: sameSite.optional().default('None'),
        clientCookieName: z.string().optional(),
      })
      .prefault({}),
    doNotTrackCookie: z
      .strictObject({
        enabled: z.boolean().default(false),
        name: z.string().default(''),
        value: z.string().default(''),
      })
      .prefault({}),
    cookieBounce: z
      .strictObject({
        enabled: z.boolean().default(false),
        name: z.string().default('n3pc'),
        fallbackNetworkUserId: z.string().default('00000000-0000-4000-A000-000000000000'),
        forwardedProtocolHeader: z.string().optional(),
      })
      .prefault({}),
    enableDefaultRedirect: z.boolean().default(false),
    redirectDomains: z.array(z.string()).default([]),
    rootResponse: z
      .strictObject({
        enabled: z.boolean().default(false),
        statusCode: z.number().int().min(100).max(599).default(302),
        headers: z.record(z.string(), z.string()).default({}),
        body: z.string().default(''),
      })
      .prefault({}),
    crossDomain: z
      .strictObject({
        enabled: z.boolean().default(false),
        domains: z.array(z.string()).default(['*']),
        secure: z.boolean().default(true),
      })
      .prefault({}),
    cors: z.strictObject({ accessControlMaxAgeSeconds: z.number().int().min(0).default(3600) }).prefault({}),
    networking: z
      .strictObject({
        /** bodies larger than this are refused with 413 */
        dropPayloadSize: z.number().int().positive().default(2_097_152),
        /** serialised records larger than this become size_violation bad rows */
        maxPayloadSize: z.number().int().positive().default(1_048_576),
        /** records must be smaller than this (the sink's record limit); larger POSTs are split */
        maxBytes: z.number().int().positive().default(1_000_000),
        idleTimeoutMs: z.number().int().positive().default(610_000),
        bodyReadTimeoutMs: z.number().int().positive().default(25_000),
        /** tracking requests through Furrow's own HTTP/1.1 reader (src/runtime/fast-http.ts); false: node:http */
        fastHttp: z.boolean().default(true),
      })
      .prefault({}),
    /** name written into every record's `collector` field (becomes `v_collector`) */
    name: z.string().default('furrow-collector'),
  })
  .prefault({});

export type CollectorConfig = z.output<typeof collectorConfigSchema>;

export function defaultCollectorConfig(
  overrides: z.input<typeof collectorConfigSchema> = {},
): CollectorConfig {
  return collectorConfigSchema.parse(overrides);
}
