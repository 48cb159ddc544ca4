import { createWriteStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseEnrichments } from '../../enrich/enrichments/defaults.js';
import { Enricher, type EnrichOutput } from '../../enrich/pipeline.js';
import { createResolver } from '../../iglu/resolver.js';
import { defaultResolverConfig } from '../../iglu/resolver-config.js';
import { encodeCollectorPayload } from '../../protocol/collector-payload.js';
import { type Command, UsageError } from '../command.js';
import { parseRequestText } from '../request-text.js';
import { roleHelp, runRole } from './roles.js';

const HELP = `Usage: furrow enrich [options] FILE|-
       furrow enrich [role options]        (no FILE: the stream role, see below)

Enrich raw collector records without a server: reads FILE (or standard input with "-"), writes
enriched TSV lines (131 fields, Snowplow's format) and bad rows (self-describing JSON, one per line).
Without FILE, furrow enrich runs as the enrich role of distributed mode (raw stream → enriched and bad
streams); "furrow enrich --role-help" lists the role's options.

Input formats (--format, default auto):
  request   readable HTTP requests, separated by a line "---":
              GET /i?e=pv&p=web&tv=js-4.10.1&url=https%3A%2F%2Fexample.com%2F
              User-Agent: Mozilla/5.0
              ---
              POST /com.snowplowanalytics.snowplow/tp2
              Content-Type: application/json

              {"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[...]}
  base64    one Thrift CollectorPayload per line, base64 (the Snowplow collector's stdout sink format)
  thrift    the whole input is one binary Thrift CollectorPayload
  auto      request if the input starts with a request line, base64 if every line is base64, else thrift

Options:
  -f, --format FORMAT     request | base64 | thrift | auto (default auto)
  -o, --good FILE         write enriched TSV here (default: standard output)
  -b, --bad FILE          write bad rows here (default: standard error)
  -r, --resolver FILE     Iglu resolver configuration (Snowplow's resolver-config JSON, 1-0-0…1-0-3);
                          default: Iglu Central over HTTP plus ./schemas when that folder exists
  -e, --enrichments DIR   folder of Snowplow enrichment configuration JSON files; without it a default
                          set runs: ua_parser, campaign_attribution, event_fingerprint, bot_detection
      --referer-database F  Snowplow referer database (referers.json/.yml, path or URL): adds
                          referer_parser to the default set
      --no-enrichments    run no enrichments at all
      --collector-tstamp MS  collector timestamp for request input (default: now)
      --ip ADDRESS        client IP for request input (default 127.0.0.1; X-Forwarded-For wins)
  -q, --quiet             no summary line on standard error
  -h, --help              show this help

Exit status: 0 when every input record was read (bad rows are data, not errors), 1 on unreadable
input or configuration, 2 on wrong usage.
`;

type Format = 'request' | 'base64' | 'thrift' | 'auto';
const FORMATS = new Set<Format>(['request', 'base64', 'thrift', 'auto']);
const BASE64_LINES = /^[A-Za-z0-9+/=_\-\r\n]*$/;

async function readInput(file: string | undefined): Promise<Buffer> {
  if (file === undefined || file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  if (!existsSync(file)) throw new UsageError(`input file not found: ${file}`);
  return readFile(file);
}

function detect(input: Buffer): Exclude<Format, 'auto'> {
  const head = input
    .subarray(0, 4096)
    .toString('latin1')
    .replace(/^(\s*#[^\n]*\n|\s*\n)*/, '');
  if (/^(GET|POST|HEAD|PUT|OPTIONS) \//.test(head)) return 'request';
  if (input.length > 0 && BASE64_LINES.test(input.toString('latin1'))) return 'base64';
  return 'thrift';
}

function records(
  input: Buffer,
  format: Exclude<Format, 'auto'>,
  opts: { tstamp: number; ip: string },
): Uint8Array[] {
  switch (format) {
    case 'thrift':
      return input.length === 0 ? [] : [input];
    case 'base64':
      return input
        .toString('latin1')
        .split(/\r?\n/)
        .filter((l) => l.trim() !== '')
        .map((l) => Buffer.from(l.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
    case 'request':
      return parseRequestText(input.toString('utf8'), {
        timestamp: opts.tstamp,
        ipAddress: opts.ip,
        collector: 'furrow-cli',
      }).map(encodeCollectorPayload);
  }
}

// Flags that take a value (offline and role flags), so that a value is never mistaken for the FILE.
const VALUE_FLAGS = new Set([
  '-c',
  '--config',
  '-p',
  '--port',
  '--host',
  '-d',
  '--data-dir',
  '-s',
  '--schemas',
  '-w',
  '--workers',
  '--durability',
  '--log-level',
  '--streams',
  '--warehouse',
  '--referer-database',
  '-f',
  '--format',
  '-o',
  '--good',
  '-b',
  '--bad',
  '-r',
  '--resolver',
  '-e',
  '--enrichments',
  '--collector-tstamp',
  '--ip',
]);

/** True when argv names an input (a FILE or "-"), i.e. offline mode. */
function hasPositional(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-') return true;
    if (a.startsWith('-')) {
      if (VALUE_FLAGS.has(a)) i++;
      continue;
    }
    return true;
  }
  return false;
}

export const enrichCommand: Command = {
  name: 'enrich',
  summary: 'enrich records from a file or stdin (FILE|-), or run the enrich stream role',
  help: HELP,
  async run(argv) {
    if (argv.includes('--role-help')) {
      process.stdout.write(roleHelp('enrich'));
      return 0;
    }
    // No input file: the stream role. Offline use always names its input ("-" for stdin), so a
    // container started without arguments never blocks reading an empty standard input.
    if (!argv.includes('-h') && !argv.includes('--help') && !hasPositional(argv))
      return runRole('enrich', argv);
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string', short: 'f', default: 'auto' },
        good: { type: 'string', short: 'o' },
        bad: { type: 'string', short: 'b' },
        resolver: { type: 'string', short: 'r' },
        enrichments: { type: 'string', short: 'e' },
        'no-enrichments': { type: 'boolean', default: false },
        'referer-database': { type: 'string' },
        'collector-tstamp': { type: 'string' },
        ip: { type: 'string', default: '127.0.0.1' },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positionals.length > 1) throw new UsageError('at most one input FILE');
    const format = values.format as Format;
    if (!FORMATS.has(format))
      throw new UsageError(`--format must be one of request, base64, thrift, auto (got ${format})`);
    const tstamp = values['collector-tstamp'] === undefined ? Date.now() : Number(values['collector-tstamp']);
    if (!Number.isSafeInteger(tstamp))
      throw new UsageError('--collector-tstamp must be milliseconds since the epoch');

    const resolverConfig =
      values.resolver === undefined
        ? defaultResolverConfig(existsSync('schemas') ? { schemasDir: resolve('schemas') } : {})
        : JSON.parse(await readFile(values.resolver, 'utf8'));
    const resolver = createResolver(resolverConfig);
    const enrichments = await chooseEnrichments(
      {
        dir: values.enrichments,
        defaults: values['no-enrichments'] ? 'none' : 'standard',
        refererDatabase: values['referer-database'],
      },
      { resolver },
    );
    const enricher = new Enricher({ resolver, enrichments });

    const input = await readInput(positionals[0]);
    const kind = format === 'auto' ? detect(input) : format;
    const recs = records(input, kind, { tstamp, ip: values.ip as string });

    const good = values.good === undefined ? process.stdout : createWriteStream(values.good);
    const bad = values.bad === undefined ? process.stderr : createWriteStream(values.bad);
    const out: EnrichOutput = { good: [], bad: [] };
    let goodCount = 0;
    let badCount = 0;
    const etl = Date.now();
    for (const rec of recs) {
      await enricher.processRecord(rec, out, etl);
      for (const l of out.good) good.write(`${l}\n`);
      for (const l of out.bad) bad.write(`${l}\n`);
      goodCount += out.good.length;
      badCount += out.bad.length;
      out.good.length = 0;
      out.bad.length = 0;
    }
    await Promise.all(
      [good, bad]
        .filter((s) => s !== process.stdout && s !== process.stderr)
        .map((s) => new Promise<void>((r) => s.end(() => r()))),
    );
    if (!values.quiet) {
      process.stderr.write(
        `furrow enrich: ${recs.length} record(s) read as ${kind}: ${goodCount} enriched, ${badCount} bad row(s)\n`,
      );
    }
    return 0;
  },
};
