/**
 * YAUAA enrichment stand-in (spec §4.5). There is no JavaScript port of YAUAA (Yet Another UserAgent Analyzer,
 * Java), so Furrow derives a subset of its fields from the uap-core parse that the ua_parser enrichment uses
 * (`UapParser`, one compiled rule set for both) plus its own classification rules, and writes them as
 * `nl.basjes/yauaa_context/jsonschema/1-0-5`. Fields it cannot tell are left out, as Snowplow leaves out
 * YAUAA's default values. `docs/yauaa-differences.md` lists what is filled and how it differs from YAUAA.
 *
 * @example
 * {"schema":"iglu:com.snowplowanalytics.snowplow.enrichments/yauaa_enrichment_config/jsonschema/1-0-0",
 *  "data":{"vendor":"com.snowplowanalytics.snowplow.enrichments","name":"yauaa_enrichment_config",
 *          "enabled":true,"parameters":{"cacheSize":1000}}}
 */
import { Lru } from '../../iglu/lru.js';
import { F } from '../../protocol/enriched-fields.js';
import type { EnrichedEvent, SelfDescribingJson } from '../event.js';
import {
  type Enrichment,
  type EnrichmentConfig,
  EnrichmentConfigError,
  type EnrichmentDefinition,
  ORDER,
  prependDerived,
  type StepOutcome,
} from './types.js';
import { bundledUapParser, type UapParser, type UapResult } from './ua-parser.js';

export const YAUAA_CONTEXT_SCHEMA = 'iglu:nl.basjes/yauaa_context/jsonschema/1-0-5';

/** YAUAA's own default cache size. */
export const DEFAULT_YAUAA_CACHE_SIZE = 10_000;

export type YauaaFields = Readonly<Record<string, string>>;

const UNKNOWN: YauaaFields = Object.freeze({ deviceClass: 'Unknown' });

// --- classification rules, compiled once ----------------------------------------------------------------------

// Robot agent families as uap-core names them (its `Spider` device rule catches most crawlers already).
const ROBOT_NAME =
  /bot\b|bot[/_-]|crawler|spider|slurp|crawl|mediapartners|adsbot|feedfetcher|externalhit|preview/i;
// Scripted HTTP clients and automated browsers, which uap-core leaves as ordinary agents.
const SCRIPTED =
  /^(?:curl|wget|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|java|okhttp|apache-httpclient|libwww-perl|scrapy|axios|node-fetch|undici|got)\b|HeadlessChrome|PhantomJS|Lighthouse|Pingdom|UptimeRobot/i;
const GAME_CONSOLE = /PlayStation (?:[2-9]|Portable)|PLAYSTATION|Xbox|Nintendo|Wii|New Nintendo 3DS|PS Vita/i;
const HANDHELD_CONSOLE =
  /PlayStation Portable|PlayStation Vita|PSP|Nintendo (?:3DS|DSi?|Switch)|New Nintendo 3DS/i;
const TV =
  /SmartTV|SMART-TV|Smart[ -]TV|HbbTV|GoogleTV|Google TV|AppleTV|Apple ?TV|CrKey|Roku|\bAFT[A-Z]|BRAVIA|NetCast|Web0S|webOS\.TV|Tizen[^;)]*TV|\bTV Safari|AndroidTV|Android TV|\bDTV\b/i;
const WATCH = /\bWatch\b|Wear ?OS|wearable/i;
const EREADER = /Kindle\/|Kobo|\bNook\b|Tolino|PocketBook/i;
const TABLET_UA = /iPad|Tablet|\bTab\b|Kindle Fire|\bSilk\/|PlayBook|\bXoom\b/i;
// Android models sold as tablets whose user agents still say "Mobile" (Galaxy Tab, Nexus 7/9/10, Kindle Fire…).
const TABLET_MODEL =
  /^(?:GT-P\d|GT-N[58]\d|SM-[TPX]\d|SCH-I[89]\d\d|SGH-T849|SHW-M[1-3]\d\d[SWL]|Nexus (?:7|9|10)\b|KF[A-Z]{2,}|Lenovo ?Tab|Xoom|MediaPad|Pixel C\b)/i;
const PHONE_UA =
  /iPhone|iPod|Windows Phone|BlackBerry|BB10|KaiOS|Symbian|\bMobi(?:le)?\b|Opera Mini|Nokia|J2ME|MIDP/i;
const FEATURE_PHONE = /^(?:Generic Feature Phone|Generic Smartphone)$/;
const DESKTOP_OS =
  /^(?:Windows(?! Phone| Mobile| CE| RT)|Mac OS X|macOS|Linux|Ubuntu|Debian|Fedora|Red Hat|SUSE|openSUSE|Mint|Chrome OS|Chromium OS|FreeBSD|OpenBSD|NetBSD|Solaris|Mandriva|Gentoo|Slackware|Arch Linux|Kubuntu|Xubuntu|CentOS)/;
const MOBILE_OS =
  /^(?:iOS|iPadOS|Android|Windows Phone|Windows Mobile|BlackBerry OS|BlackBerry Tablet OS|KaiOS|Symbian|Firefox OS|Tizen|Sailfish|webOS|Bada|HarmonyOS)/;
const URL_IN_UA = /https?:\/\/(?:www\.)?([^/;)\s]+)/i;
const ANDROID_BUILD = /Android [^;)]*;[^)]*?\bBuild\/([A-Za-z0-9._-]+)/;
const CHROMIUM_VERSION = /(?:Chrome|Chromium|HeadlessChrome|CriOS)\/(\d+)\.(\d+)/;
const WEBKIT_VERSION = /AppleWebKit\/([\d.]+)/;
const GECKO_VERSION = /\brv:([\w.]+)\).*Gecko\//;
const TRIDENT_VERSION = /Trident\/([\d.]+)/;
const PRESTO_VERSION = /Presto\/([\d.]+)/;
const EDGE_HTML = /Edge\/(\d+)\.(\d+)/;
const MSIE_VERSION = /MSIE (\d+)\.(\d+)/;

/** uap-core family → YAUAA agent name, where they differ. */
const AGENT_NAMES: Readonly<Record<string, string>> = {
  'Mobile Safari': 'Safari',
  'Mobile Safari UI/WKWebView': 'Safari',
  'Chrome Mobile': 'Chrome',
  'Chrome Mobile iOS': 'Chrome',
  'Chrome Mobile WebView': 'Chrome Webview',
  'Chrome Frame': 'Chrome',
  'Firefox Mobile': 'Firefox',
  'Firefox iOS': 'Firefox',
  'Firefox Beta': 'Firefox',
  'Firefox Alpha': 'Firefox',
  IE: 'Internet Explorer',
  'IE Mobile': 'IE Mobile',
  Android: 'Stock Android Browser',
  'Edge Mobile': 'Edge',
  'Opera Mobile': 'Opera',
  'Samsung Internet': 'Samsung Internet',
  HeadlessChrome: 'Headless Chrome',
};

function join(parts: ReadonlyArray<string | null>): string | null {
  let out = '';
  for (const p of parts) {
    if (p === null) break;
    out = out === '' ? p : out + '.' + p;
  }
  return out === '' ? null : out;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The organisation behind a robot, from the URL it advertises (`+http://www.google.com/bot.html` → Google). */
function robotOwner(ua: string): string | null {
  const m = URL_IN_UA.exec(ua);
  if (m === null) return null;
  const labels = m[1].toLowerCase().split('.');
  if (labels.length < 2) return null;
  // Second-level label, skipping generic second levels such as co.uk / com.au.
  let i = labels.length - 2;
  if (i > 0 && /^(?:co|com|net|org|ac|gov|edu)$/.test(labels[i]) && labels[labels.length - 1].length === 2)
    i--;
  return capitalise(labels[i]);
}

function layoutEngine(
  ua: string,
  robot: boolean,
): { name: string; version: string | null; major: string | null } | null {
  let m = EDGE_HTML.exec(ua);
  if (m !== null && !CHROMIUM_VERSION.test(ua.replace(EDGE_HTML, ''))) {
    return { name: 'EdgeHTML', version: `${m[1]}.${m[2]}`, major: m[1] };
  }
  m = CHROMIUM_VERSION.exec(ua);
  if (m !== null && Number(m[1]) >= 28) return { name: 'Blink', version: `${m[1]}.${m[2]}`, major: m[1] };
  m = WEBKIT_VERSION.exec(ua);
  if (m !== null) return { name: 'AppleWebKit', version: m[1], major: m[1].split('.')[0] };
  m = PRESTO_VERSION.exec(ua);
  if (m !== null) return { name: 'Presto', version: m[1], major: m[1].split('.')[0] };
  m = TRIDENT_VERSION.exec(ua);
  if (m !== null) return { name: 'Trident', version: m[1], major: m[1].split('.')[0] };
  m = GECKO_VERSION.exec(ua);
  if (m !== null) return { name: 'Gecko', version: m[1], major: m[1].split('.')[0] };
  m = MSIE_VERSION.exec(ua);
  if (m !== null && !robot) return { name: 'Trident', version: null, major: null };
  return null;
}

/** YAUAA's device name: brand + model, without repeating the brand or an Apple model's hardware revision. */
function deviceModel(r: UapResult): { brand: string | null; model: string | null } {
  let brand = r.device.brand;
  let model = r.device.model;
  if (
    brand === 'Generic_Android' ||
    brand === 'Generic' ||
    brand === 'Spider' ||
    brand === 'Generic_Inettv'
  ) {
    brand = null;
  }
  if (model !== null && /^(?:Nexus|Pixel)\b/.test(model)) brand = 'Google';
  if (brand === 'Apple' && model !== null) {
    const base = /^(iPhone|iPad|iPod|Mac|AppleTV|Watch)/.exec(model);
    if (base !== null) model = base[1] === 'Mac' ? 'Macintosh' : base[1];
  }
  if (model !== null && /^(?:Smartphone|Desktop|Feature Phone|Tablet|Generic|K)$/.test(model)) model = null;
  return { brand, model };
}

/**
 * Derives YAUAA fields for one user agent. Pure and deterministic, so callers may cache by the raw string.
 * Null or empty user agents give YAUAA's default `{"deviceClass":"Unknown"}`.
 */
export function analyzeUserAgent(ua: string | null, uap: UapParser = bundledUapParser()): YauaaFields {
  if (ua === null || ua === '') return UNKNOWN;
  const r = uap.parse(ua);
  const out: Record<string, string> = {};
  const agentFamily = r.userAgent.family;
  const robot =
    r.device.family === 'Spider' ||
    ROBOT_NAME.test(agentFamily) ||
    SCRIPTED.test(ua) ||
    (agentFamily === 'Other' && ROBOT_NAME.test(ua));
  const mobileRobot = robot && (r.device.model === 'Smartphone' || /\bMobile\b|Android|iPhone/.test(ua));
  const { brand: uapBrand, model } = deviceModel(r);
  const owner = robot ? robotOwner(ua) : null;
  const osFamily = r.os.family;

  // deviceClass: the first rule that applies wins; order matters (a Galaxy Tab says "Mobile").
  let deviceClass: string;
  if (robot) deviceClass = mobileRobot ? 'Robot Mobile' : 'Robot';
  else if (HANDHELD_CONSOLE.test(ua)) deviceClass = 'Handheld Game Console';
  else if (GAME_CONSOLE.test(ua) || GAME_CONSOLE.test(r.device.family)) deviceClass = 'Game Console';
  else if (TV.test(ua)) deviceClass = 'TV';
  else if (WATCH.test(ua) && !/iPhone|iPad/.test(ua)) deviceClass = 'Watch';
  else if (EREADER.test(ua) && !/\bSilk\//.test(ua)) deviceClass = 'eReader';
  else if (r.device.family === 'iPad' || (model !== null && TABLET_MODEL.test(model))) deviceClass = 'Tablet';
  else if (
    r.device.family === 'iPhone' ||
    r.device.family === 'iPod' ||
    FEATURE_PHONE.test(r.device.family)
  ) {
    deviceClass = 'Phone';
  } else if (TABLET_UA.test(ua)) deviceClass = 'Tablet';
  else if (osFamily === 'Android' || osFamily === 'Android TV')
    deviceClass = /\bMobile\b/.test(ua) ? 'Phone' : 'Tablet';
  else if (PHONE_UA.test(ua) && MOBILE_OS.test(osFamily)) deviceClass = 'Phone';
  else if (DESKTOP_OS.test(osFamily) || /\b(?:X11|Macintosh|Windows NT|CrOS)\b/.test(ua))
    deviceClass = 'Desktop';
  else if (PHONE_UA.test(ua)) deviceClass = 'Phone';
  else deviceClass = 'Unknown';
  out.deviceClass = deviceClass;

  // Device name and brand.
  let brand = robot ? owner : uapBrand;
  if (brand === null && deviceClass === 'Desktop' && /Macintosh|Mac OS X/.test(ua)) brand = 'Apple';
  let deviceName: string | null = null;
  if (robot) deviceName = owner;
  else if (deviceClass === 'Desktop') {
    deviceName =
      brand === 'Apple' ? 'Apple Macintosh' : /Linux|X11|Ubuntu|CrOS/.test(ua) ? 'Linux Desktop' : 'Desktop';
  } else if (model !== null) {
    deviceName =
      brand !== null && !model.toLowerCase().startsWith(brand.toLowerCase()) ? `${brand} ${model}` : model;
  } else if (brand !== null) deviceName = brand;
  if (deviceName !== null) out.deviceName = deviceName;
  if (brand !== null) out.deviceBrand = brand;

  // Operating system.
  let osName: string | null = osFamily === 'Other' ? null : osFamily;
  const osVersion = join([r.os.major, r.os.minor, r.os.patch, r.os.patchMinor]);
  if (osName !== null && /^Windows(?! Phone| Mobile| CE| RT)/.test(osName)) osName = 'Windows NT';
  if (osName === 'Mac OS X' && osVersion !== null && Number(r.os.major) >= 11) osName = 'macOS';
  let osClass: string | null = null;
  if (robot && osName === null) {
    osName = owner;
    osClass = 'Cloud';
  } else if (robot && !mobileRobot) osClass = 'Cloud';
  else if (deviceClass === 'Game Console' || deviceClass === 'Handheld Game Console')
    osClass = 'Game Console';
  else if (osName !== null && MOBILE_OS.test(osName)) osClass = 'Mobile';
  else if (osName !== null && DESKTOP_OS.test(osFamily)) osClass = 'Desktop';
  else if (deviceClass === 'Desktop') osClass = 'Desktop';
  if (osClass !== null) out.operatingSystemClass = osClass;
  if (osName !== null) {
    out.operatingSystemName = osName;
    if (osVersion !== null) {
      out.operatingSystemVersion = osVersion;
      out.operatingSystemNameVersion = `${osName} ${osVersion}`;
      const major = /^\d+/.exec(osVersion)?.[0] ?? r.os.major ?? osVersion;
      out.operatingSystemVersionMajor = major;
      out.operatingSystemNameVersionMajor = `${osName} ${major}`;
    }
  }
  const build = osName === 'Android' ? ANDROID_BUILD.exec(ua) : null;
  if (build !== null) out.operatingSystemVersionBuild = build[1];

  // Layout engine.
  const engine = robot ? null : layoutEngine(ua, robot);
  if (robot) {
    out.layoutEngineClass = 'Robot';
  } else if (engine !== null) {
    out.layoutEngineClass = 'Browser';
    out.layoutEngineName = engine.name;
    if (engine.version !== null && engine.major !== null) {
      out.layoutEngineVersion = engine.version;
      out.layoutEngineVersionMajor = engine.major;
      out.layoutEngineNameVersion = `${engine.name} ${engine.version}`;
      out.layoutEngineNameVersionMajor = `${engine.name} ${engine.major}`;
    }
  }

  // Agent.
  const agentName = agentFamily === 'Other' ? null : (AGENT_NAMES[agentFamily] ?? agentFamily);
  let agentClass: string;
  if (robot) agentClass = mobileRobot ? 'Robot Mobile' : 'Robot';
  else if (engine !== null) agentClass = 'Browser';
  else if (agentName !== null) agentClass = 'Special';
  else agentClass = 'Unknown';
  out.agentClass = agentClass;
  if (agentName !== null) {
    out.agentName = agentName;
    const version = join([r.userAgent.major, r.userAgent.minor, r.userAgent.patch, r.userAgent.patchMinor]);
    if (version !== null) {
      out.agentVersion = version;
      out.agentNameVersion = `${agentName} ${version}`;
      const major = r.userAgent.major ?? version;
      out.agentVersionMajor = major;
      out.agentNameVersionMajor = `${agentName} ${major}`;
    }
  }
  const url = robot ? URL_IN_UA.exec(ua) : null;
  if (url !== null) out.agentInformationUrl = url[0];
  // The Iglu schema caps every field at 128 characters; a pathological user agent must not fail the event.
  for (const k in out) if (out[k].length > 128 && k !== 'agentInformationUrl') out[k] = out[k].slice(0, 128);
  return out;
}

/**
 * A cached analyser: YAUAA caches by the raw user agent too (its `cacheSize`, default 10,000). Shared with
 * bot_detection, which computes YAUAA fields itself when the YAUAA enrichment is not configured.
 */
export class YauaaAnalyzer {
  private readonly cache: Lru<string, YauaaFields>;

  constructor(
    cacheSize = DEFAULT_YAUAA_CACHE_SIZE,
    private readonly uap: UapParser = bundledUapParser(),
  ) {
    this.cache = new Lru(cacheSize);
  }

  analyze(ua: string | null): YauaaFields {
    if (ua === null || ua === '') return UNKNOWN;
    let r = this.cache.get(ua);
    if (r === undefined) {
      r = analyzeUserAgent(ua, this.uap);
      this.cache.set(ua, r);
    }
    return r;
  }
}

export const yauaaEnrichment: EnrichmentDefinition = {
  name: 'yauaa_enrichment_config',
  criterion: 'iglu:com.snowplowanalytics.snowplow.enrichments/yauaa_enrichment_config/jsonschema/1-*-*',
  create(config: EnrichmentConfig): Enrichment {
    const p = config.parameters;
    for (const k of Object.keys(p)) {
      if (k !== 'cacheSize') throw new EnrichmentConfigError(`parameters.${k}: unknown parameter`);
    }
    const size = p.cacheSize ?? DEFAULT_YAUAA_CACHE_SIZE;
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
      throw new EnrichmentConfigError('parameters.cacheSize: expected a non-negative integer');
    }
    const analyzer = new YauaaAnalyzer(size);
    return {
      order: ORDER.yauaa,
      info: { schemaKey: config.schemaKey, identifier: 'yauaa' },
      enrich(ev: EnrichedEvent): StepOutcome {
        // A copy per event: later steps (JavaScript, PII) may edit the entity in place.
        const ctx: SelfDescribingJson = {
          schema: YAUAA_CONTEXT_SCHEMA,
          data: { ...analyzer.analyze(ev.fields[F.useragent]) },
        };
        prependDerived(ev, [ctx]);
        return undefined;
      },
    };
  },
};
