/**
 * Runs the `furrow` CLI compiled beside the benchmarks (same outDir), so a bench measures the code it
 * was built with rather than whatever `bin/furrow.js` finds in dist/: `node furrow-cli.js up --port 0 …`.
 */
import { main } from '../../src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`furrow: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
