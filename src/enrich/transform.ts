/**
 * Phase 1 of enrichment: tracker parameters → atomic fields (Snowplow's `Transform.transformMap`).
 * The converter table is built once at module load; per event the work is one Map lookup per parameter.
 */
import { decodeBase64Lenient } from '../protocol/base64.js';
import { F } from '../protocol/enriched-fields.js';
import { firstIpToken } from '../protocol/ip-address.js';
import {
  formatBigDecimal,
  formatTimestamp,
  parseJavaInt,
  parseMsTimestamp,
} from '../protocol/java-format.js';
import { sanitize } from '../protocol/sanitize.js';
import { parseUuid } from '../protocol/uuid.js';
import type { EnrichedEvent } from './event.js';

/** Raw JSON text of `ue_pr`/`ue_px` and `co`/`cx`, validated after the transform (phase 1 cont.). */
export interface TrackerJson {
  unstruct: string | null;
  contexts: string | null;
}

/** One atomic-field error, reported as Snowplow does against the atomic schema. */
export interface AtomicFieldError {
  message: string;
  path: string;
  keyword: 'atomic_field_parse_error' | 'atomic_field_length_exceeded';
  targets: string[];
}

type Converter = (ev: EnrichedEvent, value: string, json: TrackerJson) => string | undefined;

const EVENT_TYPES: Record<string, string> = {
  pv: 'page_view',
  pp: 'page_ping',
  se: 'struct',
  ev: 'struct',
  ue: 'unstruct',
  ad: 'ad_impression',
  tr: 'transaction',
  ti: 'transaction_item',
};
const PLATFORMS = new Set(['web', 'iot', 'app', 'mob', 'pc', 'cnsl', 'tv', 'srv', 'headset']);
const DIMENSIONS = /^(\d+)x(\d+)$/;

function str(field: number): Converter {
  return (ev, v) => {
    ev.fields[field] = sanitize(v);
    return undefined;
  };
}

function int(field: number): Converter {
  return (ev, v) => {
    const r = parseJavaInt(v);
    if (!r.ok) return r.message;
    ev.fields[field] = r.value === null ? null : String(r.value);
    return undefined;
  };
}

function decimal(field: number): Converter {
  return (ev, v) => {
    const r = formatBigDecimal(v);
    if (!r.ok) return r.message;
    ev.fields[field] = r.value;
    return undefined;
  };
}

function bool(field: number): Converter {
  return (ev, v) => {
    if (v !== '0' && v !== '1') return 'Cannot be converted to Boolean-like java.lang.Byte';
    ev.fields[field] = v;
    return undefined;
  };
}

function uuid(field: number): Converter {
  return (ev, v) => {
    const u = parseUuid(v);
    if (u === null) return 'Not a valid UUID';
    ev.fields[field] = u;
    return undefined;
  };
}

type MsSlot = 'dvceCreatedMs' | 'dvceSentMs' | 'trueMs';
function tstamp(field: number, slot: MsSlot): Converter {
  return (ev, v) => {
    const r = parseMsTimestamp(v);
    if (!r.ok) return r.message;
    ev.fields[field] = formatTimestamp(r.ms);
    ev[slot] = r.ms;
    return undefined;
  };
}

function dimensions(wField: number, hField: number): Converter {
  return (ev, v) => {
    const m = DIMENSIONS.exec(v);
    if (m === null) return 'Does not conform to regex (\\d+)x(\\d+)';
    const w = parseJavaInt(m[1]);
    const h = parseJavaInt(m[2]);
    if (!w.ok || !h.ok) return 'Does not conform to regex (\\d+)x(\\d+)';
    ev.fields[wField] = String(w.value);
    ev.fields[hField] = String(h.value);
    return undefined;
  };
}

const converters = new Map<string, Converter>([
  [
    'e',
    (ev, v) => {
      const t = EVENT_TYPES[v];
      if (t === undefined) return 'Not a valid event type';
      ev.fields[F.event] = t;
      return undefined;
    },
  ],
  [
    'p',
    (ev, v) => {
      if (!PLATFORMS.has(v)) return 'Not a valid platform';
      ev.fields[F.platform] = v;
      return undefined;
    },
  ],
  [
    'ip',
    (ev, v) => {
      ev.fields[F.user_ipaddress] = sanitize(firstIpToken(v));
      return undefined;
    },
  ],
  ['eid', uuid(F.event_id)],
  ['sid', uuid(F.domain_sessionid)],
  ['tid', int(F.txn_id)],
  ['vid', int(F.domain_sessionidx)],
  ['ti_qu', int(F.ti_quantity)],
  ['pp_mix', int(F.pp_xoffset_min)],
  ['pp_max', int(F.pp_xoffset_max)],
  ['pp_miy', int(F.pp_yoffset_min)],
  ['pp_may', int(F.pp_yoffset_max)],
  ['se_va', decimal(F.se_value)],
  ['ev_va', decimal(F.se_value)],
  ['tr_tt', decimal(F.tr_total)],
  ['tr_tx', decimal(F.tr_tax)],
  ['tr_sh', decimal(F.tr_shipping)],
  ['ti_pr', decimal(F.ti_price)],
  ['dtm', tstamp(F.dvce_created_tstamp, 'dvceCreatedMs')],
  ['stm', tstamp(F.dvce_sent_tstamp, 'dvceSentMs')],
  ['ttm', tstamp(F.true_tstamp, 'trueMs')],
  ['f_pdf', bool(F.br_features_pdf)],
  ['f_fla', bool(F.br_features_flash)],
  ['f_java', bool(F.br_features_java)],
  ['f_dir', bool(F.br_features_director)],
  ['f_qt', bool(F.br_features_quicktime)],
  ['f_realp', bool(F.br_features_realplayer)],
  ['f_wma', bool(F.br_features_windowsmedia)],
  ['f_gears', bool(F.br_features_gears)],
  ['f_ag', bool(F.br_features_silverlight)],
  ['cookie', bool(F.br_cookies)],
  ['res', dimensions(F.dvce_screenwidth, F.dvce_screenheight)],
  ['ds', dimensions(F.doc_width, F.doc_height)],
  ['vp', dimensions(F.br_viewwidth, F.br_viewheight)],
  [
    'ue_pr',
    (_ev, v, json) => {
      json.unstruct = v;
      return undefined;
    },
  ],
  [
    'ue_px',
    (_ev, v, json) => {
      json.unstruct = decodeBase64Lenient(v);
      return undefined;
    },
  ],
  [
    'co',
    (_ev, v, json) => {
      json.contexts = v;
      return undefined;
    },
  ],
  [
    'cx',
    (_ev, v, json) => {
      json.contexts = decodeBase64Lenient(v);
      return undefined;
    },
  ],
]);

const STRING_PARAMS: Array<[string, number]> = [
  ['aid', F.app_id],
  ['uid', F.user_id],
  ['duid', F.domain_userid],
  ['nuid', F.network_userid],
  ['ua', F.useragent],
  ['fp', F.user_fingerprint],
  ['tna', F.name_tracker],
  ['tv', F.v_tracker],
  ['cv', F.v_collector],
  ['lang', F.br_lang],
  ['cd', F.br_colordepth],
  ['tz', F.os_timezone],
  ['refr', F.page_referrer],
  ['url', F.page_url],
  ['page', F.page_title],
  ['cs', F.doc_charset],
  ['se_ca', F.se_category],
  ['ev_ca', F.se_category],
  ['se_ac', F.se_action],
  ['ev_ac', F.se_action],
  ['se_la', F.se_label],
  ['ev_la', F.se_label],
  ['se_pr', F.se_property],
  ['ev_pr', F.se_property],
  ['tr_id', F.tr_orderid],
  ['tr_af', F.tr_affiliation],
  ['tr_ci', F.tr_city],
  ['tr_st', F.tr_state],
  ['tr_co', F.tr_country],
  ['ti_id', F.ti_orderid],
  ['ti_sk', F.ti_sku],
  ['ti_na', F.ti_name],
  ['ti_nm', F.ti_name],
  ['ti_ca', F.ti_category],
  ['tr_cu', F.tr_currency],
  ['ti_cu', F.ti_currency],
];
for (const [param, field] of STRING_PARAMS) converters.set(param, str(field));

/**
 * Maps every known parameter onto `ev`, collecting parse errors instead of stopping at the first
 * (Snowplow reports all of an event's bad parameters in one schema violation). Unknown parameters
 * and parameters without a value are ignored. `tnuid` is applied last so it wins over `nuid`.
 */
export function transformParameters(
  ev: EnrichedEvent,
  params: ReadonlyMap<string, string | null>,
  json: TrackerJson,
): AtomicFieldError[] | null {
  let errors: AtomicFieldError[] | null = null;
  let tnuid: string | null = null;
  for (const [name, value] of params) {
    if (value === null) continue;
    if (name === 'tnuid') {
      tnuid = value;
      continue;
    }
    const convert = converters.get(name);
    if (convert === undefined) continue;
    const message = convert(ev, value, json);
    if (message !== undefined) {
      (errors ??= []).push({ message, path: name, keyword: 'atomic_field_parse_error', targets: [] });
    }
  }
  if (tnuid !== null) ev.fields[F.network_userid] = sanitize(tnuid);
  return errors;
}
