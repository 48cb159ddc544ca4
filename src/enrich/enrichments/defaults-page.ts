/**
 * The page, marketing and identity enrichments Furrow runs when the user configures none, as Snowplow-format
 * configuration objects (the same documents a user would put in the enrichments folder), so they go through
 * `buildEnrichments` like any other.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Snowplow's usual `utm_*` mapping (the example config shipped with Enrich). */
export function campaignAttributionDefault(): unknown {
  return {
    schema: 'iglu:com.snowplowanalytics.snowplow/campaign_attribution/jsonschema/1-0-1',
    data: {
      vendor: 'com.snowplowanalytics.snowplow',
      name: 'campaign_attribution',
      enabled: true,
      parameters: {
        mapping: 'static',
        fields: {
          mktMedium: ['utm_medium'],
          mktSource: ['utm_source'],
          mktTerm: ['utm_term'],
          mktContent: ['utm_content'],
          mktCampaign: ['utm_campaign'],
        },
      },
    },
  };
}

/** MD5 over every parameter except those that differ between retries of the same event. */
export function eventFingerprintDefault(): unknown {
  return {
    schema: 'iglu:com.snowplowanalytics.snowplow/event_fingerprint_config/jsonschema/1-0-1',
    data: {
      vendor: 'com.snowplowanalytics.snowplow',
      name: 'event_fingerprint_config',
      enabled: true,
      parameters: { excludeParameters: ['eid', 'nuid', 'stm', 'cv'], hashAlgorithm: 'MD5' },
    },
  };
}

/**
 * The referer database is GPL-licensed and not shipped, so referer_parser is only a default when the caller
 * knows where one is: `uri` is the folder (path, `file:` or `http(s):` URL), `database` the file in it.
 */
export function refererParserDefault(uri: string, database: string, internalDomains: string[] = []): unknown {
  return {
    schema: 'iglu:com.snowplowanalytics.snowplow/referer_parser/jsonschema/2-0-1',
    data: {
      vendor: 'com.snowplowanalytics.snowplow',
      name: 'referer_parser',
      enabled: true,
      parameters: { uri, database, internalDomains },
    },
  };
}

/**
 * Default configs: campaign attribution and event fingerprint always; referer_parser when
 * `refererDatabase` (a path or URL of `referers.json` / `referers.yml`) is given.
 */
export function defaultPageEnrichmentConfigs(refererDatabase?: string): unknown[] {
  const out = [campaignAttributionDefault(), eventFingerprintDefault()];
  if (refererDatabase !== undefined && refererDatabase !== '') {
    // The config schema wants `uri` to be a URI, so a local path becomes a file: URL of its folder.
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(refererDatabase)
      ? refererDatabase
      : pathToFileURL(resolve(refererDatabase)).href;
    const cut = url.lastIndexOf('/');
    out.push(refererParserDefault(url.slice(0, cut), decodeURIComponent(url.slice(cut + 1))));
  }
  return out;
}
