import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { drainOrphanedSpool } from '../../collector/spool.js';
import { loadConfig } from '../../runtime/config.js';
import { openStreams } from '../../runtime/roles.js';
import { type Command, UsageError } from '../command.js';
import { envHelp } from '../config-flags.js';

const HELP = `Usage: furrow drain-spool --dir SPOOL_DIR [options]

Forwards what a removed collector left in its spool (e.g. the PVC of a StatefulSet pod that a scale-in
removed) to the configured raw stream, then exits. The spool's LOCK is taken over when its owner is
gone; a live owner makes this fail. Records are retired only once the stream acknowledges them, so an
interrupted drain can simply be run again (at least once: the stream may see a record twice).

Options:
      --dir DIR             the spool directory (the collector's <data-dir>/spool)
  -c, --config FILE         JSON config file (also FURROW_CONFIG): streams.engine and streams.<engine>
      --streams ENGINE      stream engine: embedded, kafka, nats, pubsub (default: from the config)
  -d, --data-dir DIR        data directory (only the embedded engine keeps its streams there)
      --deadline SECONDS    give up after this long (default 600)
  -h, --help                show this help

Exit status: 0 when the spool is empty, 3 when records remain (the stream did not take them all before
the deadline: run it again), 1 on an error.

Environment variables:
${envHelp()}
`;

export const drainSpoolCommand: Command = {
  name: 'drain-spool',
  summary: 'forward an orphaned collector spool (a removed pod’s PVC) to the raw stream',
  help: HELP,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        dir: { type: 'string' },
        config: { type: 'string', short: 'c' },
        streams: { type: 'string' },
        'data-dir': { type: 'string', short: 'd' },
        deadline: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (values.dir === undefined) throw new UsageError('--dir is required');
    const seconds = values.deadline === undefined ? 600 : Number(values.deadline);
    if (!Number.isFinite(seconds) || seconds <= 0)
      throw new UsageError('--deadline must be a positive number');
    const cfg = loadConfig({
      file: values.config,
      overrides: [
        ['streams.engine', values.streams],
        ['dataDir', values['data-dir']],
      ],
    });
    const dir = resolve(values.dir);
    const streams = await openStreams(cfg);
    try {
      const result = await drainOrphanedSpool(dir, streams.raw, Date.now() + seconds * 1000, {
        maxBytes: cfg.spool.maxBytes,
        durability: cfg.spool.durability,
      });
      process.stdout.write(`${JSON.stringify({ dir, engine: cfg.streams.engine, ...result })}\n`);
      return result.drained ? 0 : 3;
    } finally {
      await streams.engine.close();
    }
  },
};
