/**
 * Fixed, versioned request payloads for the HTTP benchmarks, shaped like what the Snowplow JavaScript
 * tracker (v3/v4) sends: a GET pixel with a ~1 KB query string and the usual browser headers, and
 * `tp2` POST bodies (`payload_data` 1-0-4) whose events carry `co` contexts (web_page, client_session).
 * Every schema used is in Iglu Central, so enrich validates them from a local `--schemas` copy.
 *
 * @example
 * pixelPath();                    // '/i?e=pv&url=…' (~1 KB)
 * tp2Body(2).length;              // ~2 KB, 2 events
 * trackerBatch(ids, Date.now(), 'run-1'); // 10 events with the given event ids, dtm/stm = send time
 */
import { randomUUID } from 'node:crypto';

export const TP2_PATH = '/com.snowplowanalytics.snowplow/tp2';
export const PAYLOAD_DATA = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4';
const CONTEXTS = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0';
const UNSTRUCT = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0';
const WEB_PAGE = 'iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0';
const CLIENT_SESSION = 'iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2';
const LINK_CLICK = 'iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1';

export const USER_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
/** Fixed identifiers so runs are byte-identical (the collector does not deduplicate). */
const DUID = '5f1e7a2c-3b4d-4e6f-8a9b-0c1d2e3f4a5b';
const SID = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d';
const NUID = 'c0ffee00-1234-4abc-8def-0123456789ab';
const PAGE_ID = '0b6f0d2e-8c7a-4f11-9a43-5e2d7c1b9f00';
const FIXED_EID = ['4d2a5d1c-7f3e-4b9a-8c61-2e0f9b7a6d51', 'a3b1c9e7-2d4f-4e8a-9b6c-7d5e3f1a0b29'];

/** Browser-like request headers for the pixel: UA, an existing `sp` network-user-id cookie, referer. */
export function pixelHeaders(): Record<string, string> {
  return {
    'User-Agent': USER_AGENT,
    Cookie: `sp=${NUID}; _sp_id.1fff=${DUID}.1718000000.3.1718100000.1717900000.${SID}`,
    Referer: 'https://shop.example.com/catalog/shoes/running?color=blue&size=42',
    'Accept-Language': 'en-GB,en;q=0.9,de;q=0.8',
  };
}

/** Browser-like headers for tp2 POSTs. */
export function postHeaders(): Record<string, string> {
  return {
    'User-Agent': USER_AGENT,
    Cookie: `sp=${NUID}`,
    Origin: 'https://shop.example.com',
    'Accept-Language': 'en-GB,en;q=0.9,de;q=0.8',
    'Content-Type': 'application/json; charset=utf-8',
  };
}

function contexts(eventIndex: number, pageId = PAGE_ID, full = true): string {
  const session: Record<string, unknown> = {
    userId: DUID,
    sessionId: SID,
    sessionIndex: 3,
    eventIndex,
    storageMechanism: 'COOKIE_1',
  };
  if (full) {
    session.previousSessionId = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
    session.firstEventId = FIXED_EID[0];
    session.firstEventTimestamp = '2024-06-11T09:20:00.000Z';
  }
  return JSON.stringify({
    schema: CONTEXTS,
    data: [
      { schema: WEB_PAGE, data: { id: pageId } },
      { schema: CLIENT_SESSION, data: session },
    ],
  });
}

/** The fields every JS-tracker event carries (the tracker's "common" payload). */
function common(eid: string, dtm: number, stm: number, aid: string): Record<string, string> {
  return {
    eid,
    tv: 'js-3.24.0',
    tna: 'sp1',
    aid,
    p: 'web',
    cookie: '1',
    cs: 'UTF-8',
    lang: 'en-GB',
    res: '1920x1080',
    cd: '24',
    tz: 'Europe/Berlin',
    dtm: String(dtm),
    stm: String(stm),
    vp: '1536x731',
    ds: '1519x4202',
    vid: '3',
    sid: SID,
    duid: DUID,
    url: 'https://shop.example.com/catalog/shoes/running/trail-runner-gtx-42?utm_source=newsletter&utm_campaign=summer',
    refr: 'https://www.google.com/',
  };
}

/** A realistic page-view pixel: `/i?…`, ~1.2 KB, with base64url `cx` contexts like the JS tracker's GET. */
export function pixelPath(): string {
  const p = new URLSearchParams({
    e: 'pv',
    page: 'Trail Runner GTX – Running Shoes – Example Shop',
    ...common(FIXED_EID[0], 1718100000000, 1718100000012, 'shop-web'),
    cx: Buffer.from(contexts(1, PAGE_ID, false)).toString('base64url'),
  });
  return `/i?${p.toString()}`;
}

/** One tp2 body with `n` page views (2 → ~2.2 KB), byte-identical across runs. */
export function tp2Body(n = 2): string {
  const data = Array.from({ length: n }, (_, i) => ({
    e: 'pv',
    page: 'Trail Runner GTX – Running Shoes – Example Shop',
    ...common(FIXED_EID[i % 2], 1718100000000 + i, 1718100000012, 'shop-web'),
    co: contexts(i + 1, PAGE_ID, false),
  }));
  return JSON.stringify({ schema: PAYLOAD_DATA, data });
}

/**
 * A batch like a JS tracker's buffered POST: a mix of page views, page pings, structured events and link
 * clicks (self-describing), each with its own event id, `dtm`/`stm` = `sentAt` (ms) and app id `aid`
 * (the run tag, so rows can be grouped per run in the warehouse).
 */
export function trackerBatch(eventIds: readonly string[], sentAt: number, aid: string): string {
  const pageId = randomUUID();
  const data = eventIds.map((eid, i) => {
    const base = { ...common(eid, sentAt, sentAt, aid), co: contexts(i + 1, pageId) };
    switch (i % 4) {
      case 0:
        return { e: 'pv', page: 'Trail Runner GTX – Running Shoes – Example Shop', ...base };
      case 1:
        return { e: 'pp', pp_mix: '0', pp_max: '312', pp_miy: '120', pp_may: '1840', ...base };
      case 2:
        return {
          e: 'se',
          se_ca: 'checkout',
          se_ac: 'add_to_basket',
          se_la: 'trail-runner-gtx',
          se_pr: 'size-42',
          se_va: '129.9',
          ...base,
        };
      default:
        return {
          e: 'ue',
          ue_pr: JSON.stringify({
            schema: UNSTRUCT,
            data: {
              schema: LINK_CLICK,
              data: {
                targetUrl: 'https://shop.example.com/catalog/shoes/running/trail-runner-gtx-43',
                elementId: 'size-43',
                elementClasses: ['size-option', 'available'],
                elementTarget: '_self',
              },
            },
          }),
          ...base,
        };
    }
  });
  return JSON.stringify({ schema: PAYLOAD_DATA, data });
}
