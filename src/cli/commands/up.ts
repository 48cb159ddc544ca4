import { parseArgs } from 'node:util';
import { loadConfig } from '../../runtime/config.js';
import { onShutdownSignals } from '../../runtime/lifecycle.js';
import { createLogger } from '../../runtime/logger.js';
import { startUpApp } from '../../runtime/up-app.js';
import type { Command } from '../command.js';
import { envHelp, flagOverrides, SERVER_FLAGS, SERVER_FLAGS_HELP } from '../config-flags.js';

const HELP = `Usage: furrow up [options]

Run the whole pipeline in one process, with nothing else to install:
  collector  http://localhost:8080 (point Snowplow trackers here; a 200 means the event is on disk)
  enrich     worker threads, one per core; Iglu Central over HTTP plus ./schemas
  warehouse  DuckDB at <data-dir>/warehouse.duckdb (table atomic.events, bad rows in atomic.bad_rows)
  Micro API  /micro/good, /micro/bad, /micro/all on the same port
  status     /status (and /status.json), /metrics (Prometheus), /health/live, /health/ready
Data (spool, streams, warehouse) lives in --data-dir, ./furrow-data by default. Ctrl-C (SIGINT) or
SIGTERM drains everything in flight into DuckDB, then exits 0; events that cannot be enriched yet (no
Iglu registry answers) stay in the raw stream and are loaded after the next start. A second Ctrl-C exits
at once, losing nothing that was acknowledged.

Options:
${SERVER_FLAGS_HELP}
  -d, --data-dir DIR      where the spool, the streams and the warehouse live (default ./furrow-data)
      --durability MODE   fsync (default: a 200 means fsynced) or os (faster, dev only)
      --log-level LEVEL   fatal, error, warn, info (default), debug, trace, silent

Environment variables (overridden by flags; the config file is overridden by both):
${envHelp()}
  FURROW_CONFIG           path of the JSON config file
`;

export const upCommand: Command = {
  name: 'up',
  summary: 'run the whole pipeline in one process: collector, enrich, DuckDB, Micro API',
  help: HELP,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: SERVER_FLAGS, allowPositionals: false });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const cfg = loadConfig({ file: values.config, overrides: flagOverrides(values) });
    const log = createLogger({ level: cfg.log.level, role: 'up' });
    const app = await startUpApp(cfg, log);
    process.stderr.write(
      [
        `furrow up: listening on ${app.url}`,
        `  collector   ${app.url}  (tracker endpoint)`,
        `  Micro API   ${app.url}/micro/good`,
        `  status      ${app.url}/status   metrics ${app.url}/metrics`,
        `  warehouse   ${app.warehouse}  (table atomic.events)`,
        `  data        ${app.dataDir}`,
        'Press Ctrl-C to drain and stop.',
        '',
      ].join('\n'),
    );
    await onShutdownSignals(app, { preTerminationMs: cfg.shutdown.preTerminationMs, log });
    return 0;
  },
};
