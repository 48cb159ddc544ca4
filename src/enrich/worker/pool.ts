/**
 * A pool of enrich worker threads so that enrichment uses every core while the main thread keeps the
 * HTTP server and stream I/O. A worker that dies is replaced and its unfinished batches are sent again,
 * so a crash loses nothing (the stream position is only committed after the outputs are written).
 */
import { Worker } from 'node:worker_threads';
import {
  packRecords,
  type TaskRequest,
  type TaskResult,
  type WorkerInit,
  type WorkerMessage,
} from './protocol.js';

interface Task {
  id: number;
  records: Uint8Array[];
  etlMs: number;
  resolve(r: TaskResult): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  inFlight: Map<number, Task>;
}

export interface WorkerPoolOptions {
  size: number;
  init: WorkerInit;
  onRestart?: (reason: string) => void;
  /** override the worker entry (tests) */
  workerUrl?: URL;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  private readonly url: URL;

  constructor(private readonly opts: WorkerPoolOptions) {
    this.url = opts.workerUrl ?? new URL('./worker.js', import.meta.url);
    for (let i = 0; i < Math.max(1, opts.size); i++) this.slots.push(this.spawn());
  }

  /** Resolves once every worker has built its enricher; rejects with the first start-up error. */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.ready));
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(): Slot {
    const worker = new Worker(this.url, { workerData: this.opts.init });
    const slot: Slot = { worker, inFlight: new Map(), ready: Promise.resolve() };
    slot.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'init-error') reject(new Error(`enrich worker failed to start: ${m.message}`));
        else {
          const task = slot.inFlight.get(m.id);
          if (task === undefined) return;
          slot.inFlight.delete(m.id);
          if (m.error !== undefined) task.reject(new Error(m.error));
          else task.resolve(m);
        }
      });
      worker.on('error', (e) => this.replace(slot, e.message));
      worker.on('exit', (code) => {
        if (!this.closed) this.replace(slot, `exit code ${code}`);
      });
    });
    // A start-up failure is reported through ready(); avoid an unhandled rejection meanwhile.
    slot.ready.catch(() => {});
    return slot;
  }

  private replace(slot: Slot, reason: string): void {
    const i = this.slots.indexOf(slot);
    if (i === -1 || this.closed) return;
    this.opts.onRestart?.(reason);
    void slot.worker.terminate();
    const fresh = this.spawn();
    this.slots[i] = fresh;
    for (const task of slot.inFlight.values()) this.dispatch(fresh, task);
    slot.inFlight.clear();
  }

  private dispatch(slot: Slot, task: Task): void {
    slot.inFlight.set(task.id, task);
    slot.ready.then(
      () => {
        const { data, ends } = packRecords(task.records);
        const request: TaskRequest = { id: task.id, data, ends, etlMs: task.etlMs };
        slot.worker.postMessage(request, [data.buffer as ArrayBuffer]);
      },
      (e: Error) => {
        slot.inFlight.delete(task.id);
        task.reject(e);
      },
    );
  }

  /** Enriches records on the least busy worker. */
  run(records: Uint8Array[], etlMs: number = Date.now()): Promise<TaskResult> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    let best = this.slots[0];
    for (const s of this.slots) if (s.inFlight.size < best.inFlight.size) best = s;
    return new Promise<TaskResult>((resolve, reject) => {
      this.dispatch(best, { id: this.nextId++, records, etlMs, resolve, reject });
    });
  }

  /** The worker threads (tests use this to kill one). */
  workers(): Worker[] {
    return this.slots.map((s) => s.worker);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
