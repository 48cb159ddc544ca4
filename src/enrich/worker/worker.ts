/** Worker-thread entry: builds one Enricher and enriches the batches the pool sends it. */

import { parentPort, workerData } from 'node:worker_threads';
import { createResolver } from '../../iglu/resolver.js';
import { isRebuildable, rawEventToJson } from '../../micro/store.js';
import type { CollectorPayload } from '../../protocol/collector-payload.js';
import type { RawEvent } from '../../protocol/raw-event.js';
import { chooseEnrichments } from '../enrichments/defaults.js';
import { type BadTrace, Enricher, type EnrichOutput } from '../pipeline.js';
import {
  type TaskRequest,
  type TaskResult,
  unpackRecords,
  type WorkerInit,
  type WorkerMessage,
} from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('enrich worker must run in a worker thread');
const init = workerData as WorkerInit;

/** Where each output of one task came from (see `TaskResult.goodRefs`). */
interface Refs {
  record: number;
  event: number;
  goodRefs: number[];
  goodRawJson: string[];
  badRefs: number[];
  badRaw: BadTrace[];
}

/** The output of a task, with its refs: tasks may interleave in a worker while one waits for Iglu. */
interface RefOutput extends EnrichOutput {
  refs?: Refs;
}

/**
 * Notes, for the Micro feed, which event of which record each output came from: the pipeline enriches a
 * payload's raw events in adapter order through `enrichRawEvent`, each writing one good line, one bad row
 * or nothing. Seeing the calls here costs two pushes per event, where the pipeline's own trace kept every
 * raw event alive until the task's reply and serializing them cost the workers more than enriching.
 */
class ReferencingEnricher extends Enricher {
  async processRecordAt(index: number, bytes: Uint8Array, out: RefOutput, etlMs: number): Promise<void> {
    const refs = out.refs as Refs;
    refs.record = index;
    refs.event = 0;
    const bad = out.bad.length;
    await this.processRecord(bytes, out, etlMs);
    // A row not written by enrichRawEvent is a failure of the whole record (it has at most one).
    if (out.bad.length > bad && refs.badRefs.length < 2 * out.bad.length) refs.badRefs.push(index, -1);
  }

  override async enrichRawEvent(
    raw: RawEvent,
    out: RefOutput,
    etlMs: number,
    payload: CollectorPayload | null = null,
  ): Promise<void> {
    const refs = out.refs;
    if (refs === undefined) return super.enrichRawEvent(raw, out, etlMs, payload);
    const event = refs.event++;
    const good = out.good.length;
    const bad = out.bad.length;
    await super.enrichRawEvent(raw, out, etlMs, payload);
    const rebuildable = isRebuildable(raw);
    if (out.good.length > good) {
      if (rebuildable) refs.goodRefs.push(refs.record, event);
      else {
        refs.goodRefs.push(refs.record, -1);
        refs.goodRawJson.push(JSON.stringify(rawEventToJson(raw)));
      }
    } else if (out.bad.length > bad) {
      if (rebuildable) refs.badRefs.push(refs.record, event);
      else {
        refs.badRefs.push(refs.record, -2);
        refs.badRaw.push({ payload, raw });
      }
    }
  }
}

async function start(): Promise<ReferencingEnricher> {
  const resolver = createResolver(init.resolverConfig);
  const enrichments = await chooseEnrichments(
    { dir: init.enrichmentsDir, defaults: init.defaultEnrichments, refererDatabase: init.refererDatabase },
    { resolver },
  );
  return new ReferencingEnricher({
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
      const refs: Refs | undefined = init.trace
        ? { record: 0, event: 0, goodRefs: [], goodRawJson: [], badRefs: [], badRaw: [] }
        : undefined;
      const out: RefOutput = { good: [], bad: [], refs };
      let error: string | undefined;
      try {
        const records = unpackRecords(task);
        if (refs !== undefined) {
          for (let i = 0; i < records.length; i++)
            await enricher.processRecordAt(i, records[i], out, task.etlMs);
        } else for (const r of records) await enricher.processRecord(r, out, task.etlMs);
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
      if (refs !== undefined) {
        result.goodRefs = refs.goodRefs;
        result.badRefs = refs.badRefs;
        if (refs.goodRawJson.length > 0) result.goodRawJson = refs.goodRawJson;
        if (refs.badRaw.length > 0) result.badRaw = refs.badRaw;
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
