/** Worker-thread entry: builds one Enricher and enriches the batches the pool sends it. */

import { parentPort, workerData } from 'node:worker_threads';
import { createResolver } from '../../iglu/resolver.js';
import { rawEventToJson } from '../../micro/store.js';
import { chooseEnrichments } from '../enrichments/defaults.js';
import { Enricher, type EnrichOutput } from '../pipeline.js';
import type { TaskRequest, TaskResult, WorkerInit, WorkerMessage } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('enrich worker must run in a worker thread');
const init = workerData as WorkerInit;

async function start(): Promise<Enricher> {
  const resolver = createResolver(init.resolverConfig);
  const enrichments = await chooseEnrichments(
    { dir: init.enrichmentsDir, defaults: init.defaultEnrichments, refererDatabase: init.refererDatabase },
    { resolver },
  );
  return new Enricher({
    resolver,
    enrichments,
    maxJsonDepth: init.maxJsonDepth,
    acceptInvalid: init.acceptInvalid,
    maxRecordSize: init.maxRecordSize,
  });
}

start().then(
  (enricher) => {
    port.on('message', async (task: TaskRequest) => {
      const out: EnrichOutput = { good: [], bad: [] };
      if (init.trace) out.trace = { good: [], bad: [] };
      let error: string | undefined;
      try {
        for (const r of task.records) await enricher.processRecord(r, out, task.etlMs);
      } catch (e) {
        // Only infrastructure failures (an unreachable Iglu registry) get here; the batch is retried.
        error = e instanceof Error ? e.message : String(e);
      }
      const result: { type: 'result' } & TaskResult = {
        type: 'result',
        id: task.id,
        good: out.good,
        bad: out.bad,
      };
      if (out.trace !== undefined) {
        result.goodRawJson = out.trace.good.map((raw) => JSON.stringify(rawEventToJson(raw)));
        result.badRaw = out.trace.bad;
      }
      if (error !== undefined) result.error = error;
      port.postMessage(result satisfies WorkerMessage);
    });
    port.postMessage({ type: 'ready' } satisfies WorkerMessage);
  },
  (e: unknown) => {
    port.postMessage({
      type: 'init-error',
      message: e instanceof Error ? e.message : String(e),
    } satisfies WorkerMessage);
  },
);
