import { parseArgs } from 'node:util';
import { loadConfig } from '../../runtime/config.js';
import { onShutdownSignals } from '../../runtime/lifecycle.js';
import { createLogger } from '../../runtime/logger.js';
import { startMicroApp } from '../../runtime/micro-app.js';
import type { Command } from '../command.js';
import { envHelp, flagOverrides, SERVER_FLAGS, SERVER_FLAGS_HELP } from '../config-flags.js';

const HELP = `Usage: furrow micro [options]

A drop-in replacement for Snowplow Micro: the collector, enrich and an in-memory store in one process.
Point a tracker at it, then query what arrived:
  GET  /micro/all                     {"total":N,"good":G,"bad":B}
  GET  /micro/good  POST /micro/good   good events, newest first (filters: event_type, schema, contexts, limit)
  GET  /micro/bad   POST /micro/bad    bad events (filters: vendor, version, limit)
  GET  /micro/reset                   forget everything
  GET  /micro/iglu/<vendor>/<name>/jsonschema/<version>
  POST /micro/events                  paginated events (Micro 4.x)
Events are stored before the collector answers, so tests need no sleeps.

Options:
${SERVER_FLAGS_HELP}

The port defaults to 9090 (Micro's). Environment variables (overridden by flags):
${envHelp()}
`;

export const microCommand: Command = {
  name: 'micro',
  summary: 'in-memory Snowplow Micro drop-in for tests (port 9090)',
  help: HELP,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: SERVER_FLAGS, allowPositionals: false });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    // Micro's own default port, unless the file, the environment or a flag says otherwise.
    const cfg = loadConfig({
      file: values.config,
      overrides: flagOverrides(values),
      defaults: [['collector.port', 9090]],
    });
    const log = createLogger({ level: cfg.log.level, role: 'micro' });
    const app = await startMicroApp(cfg, log);
    process.stderr.write(`furrow micro: listening on ${app.url} (try ${app.url}/micro/all)\n`);
    await onShutdownSignals(app, { preTerminationMs: 0, log });
    return 0;
  },
};
