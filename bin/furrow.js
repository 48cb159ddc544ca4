#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli into dist/ by `npm install` (prepare) or `npm run build`.
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`furrow: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
