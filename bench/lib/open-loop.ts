/**
 * An open-loop generator of tracker-style POST batches: one request of `batch` events is scheduled every
 * batch/rate seconds whatever the server does, so a slow server shows up as latency (and as requests
 * outstanding) rather than as a lower offered rate. Every event gets its own id and carries its
 * scheduled send time in `dtm`/`stm` (so `load_tstamp - dvce_created_tstamp` in the warehouse is the
 * request→row latency including any time the request waited to be sent) and the step tag in `app_id`.
 *
 * @example
 * const gen = new OpenLoopGenerator(new URL(`${collector}/com.snowplowanalytics.snowplow/tp2`));
 * const step = await gen.run({ rate: 5000, seconds: 10, batch: 10, tag: 'run-1' });
 * // step.eventsAcked, step.ackP99Ms, gen.acked (every event id answered 200)
 * gen.close();
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { postHeaders, trackerBatch } from './payloads.js';
import { percentilesSorted } from './stats.js';

export interface OpenLoopOptions {
  /** sockets kept open to the server (default 64) */
  connections?: number;
  /** requests outstanding beyond which a scheduled request is skipped and counted as not sent (default 5000) */
  maxOutstanding?: number;
  headers?: Record<string, string>;
}

export interface StepOptions {
  /** offered events per second */
  rate: number;
  seconds: number;
  /** events per request */
  batch: number;
  /** `app_id` of every event of the step */
  tag: string;
  /** called about every `tickMs` while the step sends (progress polling) */
  onTick?: () => void;
  tickMs?: number;
}

export interface StepResult {
  tag: string;
  rate: number;
  /** seconds from the first scheduled send to the last */
  sendSeconds: number;
  requestsScheduled: number;
  requestsSent: number;
  requestsNotSent: number;
  eventsAcked: number;
  eventsFailed: number;
  /** scheduled send → 200, ms */
  ackP50Ms: number;
  ackP99Ms: number;
  /** generator CPU, cores (CPU seconds ÷ wall seconds) */
  genCpu: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class OpenLoopGenerator {
  readonly agent: Agent;
  /** every event id answered 200, over all steps */
  readonly acked = new Set<string>();
  readonly ackLatencies: number[] = [];
  outstanding = 0;
  failed = 0;
  private readonly headers: Record<string, string>;
  private readonly maxOutstanding: number;

  constructor(
    readonly url: URL,
    opts: OpenLoopOptions = {},
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.connections ?? 64 });
    this.headers = opts.headers ?? postHeaders();
    this.maxOutstanding = opts.maxOutstanding ?? 5000;
  }

  /** POSTs one batch; `scheduledEpoch` (ms since epoch) goes into `dtm`/`stm`. */
  send(ids: string[], scheduledEpoch: number, scheduledPerf: number, tag: string): Promise<void> {
    const body = trackerBatch(ids, Math.round(scheduledEpoch), tag);
    this.outstanding++;
    return new Promise((resolve) => {
      const req = request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...this.headers, 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            this.outstanding--;
            if (res.statusCode === 200) {
              for (const id of ids) this.acked.add(id);
              this.ackLatencies.push(performance.now() - scheduledPerf);
            } else this.failed += ids.length;
            resolve();
          });
        },
      );
      req.on('error', () => {
        this.outstanding--;
        this.failed += ids.length;
        resolve();
      });
      req.end(body);
    });
  }

  /** Sends `count` batches about `gapMs` apart (warm-up) and waits for their answers. */
  async warmUp(count: number, batch: number, tag: string, gapMs = 20): Promise<void> {
    const sent: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const ids = Array.from({ length: batch }, () => randomUUID());
      sent.push(this.send(ids, Date.now(), performance.now(), tag));
      await sleep(gapMs);
    }
    await Promise.all(sent);
  }

  /** One step at a fixed offered rate; resolves once every request of the step was answered. */
  async run(o: StepOptions): Promise<StepResult> {
    const interval = (o.batch / o.rate) * 1000;
    const total = Math.round((o.seconds * o.rate) / o.batch);
    const ackedBefore = this.acked.size;
    const failedBefore = this.failed;
    const latBefore = this.ackLatencies.length;
    const cpu0 = process.cpuUsage();
    const t0Perf = performance.now();
    const t0Epoch = Date.now();
    let scheduled = 0;
    let sent = 0;
    let notSent = 0;
    let lastTick = 0;
    const inflight: Promise<void>[] = [];
    while (scheduled < total) {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0Perf) / interval) + 1);
      while (scheduled < due) {
        const at = t0Perf + scheduled * interval;
        scheduled++;
        if (this.outstanding >= this.maxOutstanding) {
          notSent++;
          continue;
        }
        const ids = Array.from({ length: o.batch }, () => randomUUID());
        inflight.push(this.send(ids, t0Epoch + (at - t0Perf), at, o.tag));
        sent++;
      }
      if (o.onTick !== undefined && now - lastTick >= (o.tickMs ?? 100)) {
        lastTick = now;
        o.onTick();
      }
      await sleep(2);
    }
    const sendEnd = performance.now();
    await Promise.all(inflight);
    const cpu = process.cpuUsage(cpu0);
    const lat = Float64Array.from(this.ackLatencies.slice(latBefore)).sort();
    const [ackP50Ms, ackP99Ms] = percentilesSorted(lat, [50, 99]);
    return {
      tag: o.tag,
      rate: o.rate,
      sendSeconds: (sendEnd - t0Perf) / 1000,
      requestsScheduled: scheduled,
      requestsSent: sent,
      requestsNotSent: notSent,
      eventsAcked: this.acked.size - ackedBefore,
      eventsFailed: this.failed - failedBefore,
      ackP50Ms,
      ackP99Ms,
      genCpu: (cpu.user + cpu.system) / 1e6 / ((performance.now() - t0Perf) / 1000),
    };
  }

  close(): void {
    this.agent.destroy();
  }
}
