import { readFileSync } from 'node:fs';
import { type Command, UsageError } from './command.js';
import { backupCommand, restoreCommand } from './commands/backup.js';
import { drainSpoolCommand } from './commands/drain-spool.js';
import { enrichCommand } from './commands/enrich.js';
import { microCommand } from './commands/micro.js';
import { collectorCommand, loadCommand } from './commands/roles.js';
import { upCommand } from './commands/up.js';

const COMMANDS: readonly Command[] = [
  upCommand,
  microCommand,
  enrichCommand,
  collectorCommand,
  loadCommand,
  backupCommand,
  restoreCommand,
  drainSpoolCommand,
];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: furrow <command> [options]

Furrow: a Snowplow-compatible behavioural-data pipeline (collector, enrich, loaders, models).

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "furrow <command> --help" for a command's options.
Options: -h, --help (this text), -v, --version.
`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  if (name === '-v' || name === '--version') {
    process.stdout.write(`furrow ${version()}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (cmd === undefined) {
    process.stderr.write(`furrow: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(
        `furrow ${cmd.name}: ${(e as Error).message}\nRun "furrow ${cmd.name} --help" for usage.\n`,
      );
      return 2;
    }
    process.stderr.write(`furrow ${cmd.name}: ${(e as Error).message}\n`);
    return 1;
  }
}
