/**
 * Prometheus metrics for every role (prom-client). One registry per process; stages receive the metric
 * objects they update, so a metric name exists in exactly one place and dashboards can rely on it.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'status'>;
  events: Counter<'stage' | 'outcome'>;
  badRows: Counter<'type'>;
  spoolBytes: Gauge;
  spoolSegments: Gauge;
  spoolRecords: Gauge;
  spoolOldestAge: Gauge;
  spoolRejected: Counter;
  spoolFsyncs: Counter;
  spoolSlowDiskFsyncs: Counter;
  spoolFsyncSeconds: Histogram;
  streamLag: Gauge<'stream' | 'group'>;
  batchSize: Histogram<'stage'>;
  batchSeconds: Histogram<'stage'>;
  workerRestarts: Counter;
}

export function createMetrics(opts: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry, prefix: 'furrow_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'furrow_http_requests_total',
      help: 'HTTP requests answered, by route and status code',
      labelNames: ['route', 'status'],
      registers,
    }),
    events: new Counter({
      name: 'furrow_events_total',
      help: 'Events processed, by stage (collector, enrich, loader) and outcome (good, bad, dropped, loaded, duplicate)',
      labelNames: ['stage', 'outcome'],
      registers,
    }),
    badRows: new Counter({
      name: 'furrow_bad_rows_total',
      help: 'Bad rows produced, by bad-row type (schema_violations, size_violation, ...)',
      labelNames: ['type'],
      registers,
    }),
    spoolBytes: new Gauge({
      name: 'furrow_spool_bytes',
      help: 'Bytes held in the collector spool',
      registers,
    }),
    spoolSegments: new Gauge({
      name: 'furrow_spool_segments',
      help: 'Segment files in the collector spool',
      registers,
    }),
    spoolRecords: new Gauge({
      name: 'furrow_spool_records',
      help: 'Records in the collector spool not yet acknowledged by the raw stream',
      registers,
    }),
    spoolOldestAge: new Gauge({
      name: 'furrow_spool_oldest_age_seconds',
      help: 'Age of the oldest record not yet forwarded from the spool',
      registers,
    }),
    spoolRejected: new Counter({
      name: 'furrow_spool_rejected_total',
      help: 'Requests answered 503 because the spool could not persist them (full or disk error)',
      registers,
    }),
    spoolFsyncs: new Counter({
      name: 'furrow_spool_fsyncs_total',
      help: 'fdatasyncs of the collector spool (one per group commit)',
      registers,
    }),
    spoolSlowDiskFsyncs: new Counter({
      name: 'furrow_spool_fsyncs_pooled_total',
      help: 'Spool fdatasyncs run in the thread pool because the one before took over 10 ms (a slow disk)',
      registers,
    }),
    spoolFsyncSeconds: new Histogram({
      name: 'furrow_spool_fsync_seconds',
      help: 'Duration of each collector spool fdatasync (one per group commit); a 200 waits for one',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    streamLag: new Gauge({
      name: 'furrow_stream_lag_records',
      help: 'Records published to a stream and not yet acknowledged by a consumer group',
      labelNames: ['stream', 'group'],
      registers,
    }),
    batchSize: new Histogram({
      name: 'furrow_batch_size_records',
      help: 'Records per processed batch, by stage',
      labelNames: ['stage'],
      buckets: [1, 10, 50, 100, 500, 1000, 5000, 10000],
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'furrow_batch_duration_seconds',
      help: 'Time to process one batch end to end (read, work, write, commit), by stage',
      labelNames: ['stage'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    workerRestarts: new Counter({
      name: 'furrow_enrich_worker_restarts_total',
      help: 'Enrich worker threads restarted after a crash',
      registers,
    }),
  };
}

/** The bad-row type of a bad-row JSON string, without parsing it. */
export function badRowType(json: string): string {
  const m = /badrows\/([a-z_]+)\//.exec(json.slice(0, 200));
  return m === null ? 'unknown' : m[1];
}
