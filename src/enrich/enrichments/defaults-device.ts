/**
 * The device and bot enrichments that make sense with no configuration at all: ua_parser over the uap-core
 * rules bundled from npm, and bot_detection from YAUAA-style user-agent classification (computed by Furrow,
 * since YAUAA itself is not configured). Enrichments needing downloaded assets (MaxMind, IAB lists) are not
 * here. Returned in Snowplow's own file format, so they go through the same loader as user configuration.
 */
export function defaultDeviceEnrichmentConfigs(): unknown[] {
  return [
    {
      schema: 'iglu:com.snowplowanalytics.snowplow/ua_parser_config/jsonschema/1-0-1',
      data: {
        vendor: 'com.snowplowanalytics.snowplow',
        name: 'ua_parser_config',
        enabled: true,
        parameters: {},
      },
    },
    {
      schema:
        'iglu:com.snowplowanalytics.snowplow.enrichments/bot_detection_enrichment_config/jsonschema/1-0-1',
      data: {
        vendor: 'com.snowplowanalytics.snowplow.enrichments',
        name: 'bot_detection_enrichment_config',
        enabled: true,
        parameters: { useYauaa: true, useIab: false, useAsnLookups: false, useClientSideDetection: false },
      },
    },
  ];
}
