/** One `furrow <name>` subcommand: flags are parsed by the command itself, `help` is its `--help`. */
export interface Command {
  name: string;
  summary: string;
  help: string;
  run(argv: string[]): Promise<number>;
}

/** Wrong flags or arguments: printed with a pointer to `--help`, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
