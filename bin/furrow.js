#!/usr/bin/env -S node --single-threaded-gc
// Thin launcher: the CLI is compiled from src/cli into dist/ by `npm install` (prepare) or `npm run build`.
//
// --single-threaded-gc: V8 runs its garbage collection on the thread that allocates instead of on helper
// threads. A collector given one core (the bench pins it; a Kubernetes CPU limit of 1 does the same)
// otherwise shares that core with V8's concurrent-marking threads, which held the event loop off it for
// 10-20 ms at a time: POST p99 at half rate 35 -> 10-12 ms, throughput unchanged. Measured again once the
// collector allocated less (BENCHMARKS.md, fifth session), it no longer made a measurable difference there,
// and `furrow up` on two cores had a slightly lower p95 without it: kept pending more runs. The
// Dockerfile's ENTRYPOINT passes the same flag; started as `node bin/furrow.js`, pass it yourself.
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
