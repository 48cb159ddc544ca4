import { F } from '../../protocol/enriched-fields.js';
import { type Enrichment, ORDER, type StepOutcome } from '../enrichments/types.js';
import type { EnrichedEvent } from '../event.js';

const FIXED: Record<string, readonly [string, string, string, string]> = {
  page_view: ['com.snowplowanalytics.snowplow', 'page_view', 'jsonschema', '1-0-0'],
  page_ping: ['com.snowplowanalytics.snowplow', 'page_ping', 'jsonschema', '1-0-0'],
  struct: ['com.google.analytics', 'event', 'jsonschema', '1-0-0'],
  transaction: ['com.snowplowanalytics.snowplow', 'transaction', 'jsonschema', '1-0-0'],
  transaction_item: ['com.snowplowanalytics.snowplow', 'transaction_item', 'jsonschema', '1-0-0'],
};

const IGLU_URI = /^iglu:([a-zA-Z0-9-_.]+)\/([a-zA-Z0-9-_]+)\/([a-zA-Z0-9-_]+)\/([0-9]+-[0-9]+-[0-9]+)$/;

/** `event_vendor/name/format/version` from the event type, or from the self-describing event. */
export const schemaFields: Enrichment = {
  order: ORDER.schemaFields,
  info: null,
  enrich(ev: EnrichedEvent): StepOutcome {
    const type = ev.fields[F.event];
    let parts: readonly string[] | undefined;
    if (type === 'unstruct') {
      // An invalid or absent self-describing event leaves the four fields empty, without a failure.
      const m = ev.unstruct === null ? null : IGLU_URI.exec(ev.unstruct.schema);
      if (m === null) return undefined;
      parts = [m[1], m[2], m[3], m[4]];
    } else if (type !== null) parts = FIXED[type];
    if (parts === undefined) {
      return [
        {
          enrichment: null,
          message: {
            field: 'event',
            value: type,
            expectation: `trying to extract the schema of the enriched event but event type [${type}] doesn't match any of page_view, page_ping, struct, transaction, transaction_item and unstruct`,
          },
        },
      ];
    }
    const f = ev.fields;
    f[F.event_vendor] = parts[0];
    f[F.event_name] = parts[1];
    f[F.event_format] = parts[2];
    f[F.event_version] = parts[3];
    return undefined;
  },
};
