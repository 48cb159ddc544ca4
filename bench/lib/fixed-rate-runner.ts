/**
 * Child-process entry point for one fixed-rate run (see fixed-rate.ts), so the generator can be pinned
 * to its own core: `taskset -c 1 node fixed-rate-runner.js '<json options>'` prints one JSON line.
 *
 * Request i is due at start + i / rate. A due request goes out on the first idle keep-alive connection
 * (one request at a time on each); while every connection is busy it waits in a queue, and that wait is
 * part of its latency, so a slow answer is charged to every request it holds up. Due requests are sent
 * from a 1 ms timer and whenever an answer frees a connection, so a request can leave up to ~1 ms after
 * its due time; that delay counts against the server, never for it. The first second is a warm-up at the
 * same rate (connections open, JIT), not recorded.
 *
 * Written on `node:net` by hand, not on an HTTP client library: this is the generator's hot path, and it
 * must stay well below the servers it measures. undici's Pool, the obvious choice, took ~28 µs of CPU per
 * request here (0.71 of a core at 25,000 req/s, where it became the bottleneck: p99 27 ms against a bare
 * node:http server at half a core). The answers it reads are small and framed by Content-Length or
 * chunked encoding, which is all this reader handles; anything else counts as an error.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

interface RunnerOptions {
  url: string;
  connections: number;
  seconds: number;
  rate: number;
  method?: string;
  headers?: Record<string, string>;
  bodyFile?: string;
}

const WARMUP_SECONDS = 1;
const DRAIN_TIMEOUT_MS = 10_000;
/** a request sent later than this after its due time is reported (the generator falling behind) */
const LATE_MS = 2;
const RECONNECT_DELAY_MS = 100;
const CONNECT_TIMEOUT_MS = 10_000;

const opts = JSON.parse(process.argv[2] ?? '{}') as RunnerOptions;
const url = new URL(opts.url);
const body = opts.bodyFile === undefined ? undefined : readFileSync(opts.bodyFile);
const requestBytes = (() => {
  let head = `${opts.method ?? 'GET'} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
  for (const [k, v] of Object.entries(opts.headers ?? {})) head += `${k}: ${v}\r\n`;
  if (body !== undefined) head += `Content-Length: ${body.length}\r\n`;
  head += '\r\n';
  return body === undefined
    ? Buffer.from(head, 'latin1')
    : Buffer.concat([Buffer.from(head, 'latin1'), body]);
})();

const interval = 1000 / opts.rate;
const warmup = Math.round(WARMUP_SECONDS * opts.rate);
const total = warmup + Math.round(opts.seconds * opts.rate);
const latencies = new Float64Array(total - warmup);
let recorded = 0;
let ok = 0;
let non2xx = 0;
let errors = 0;
let lateSends = 0;
let sent = 0;
let t0 = 0;
let lastDone = 0;
/** indices of due requests waiting for a connection, oldest first */
const waiting: number[] = [];
let waitingHead = 0;
const idle: Conn[] = [];

const HEAD_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

class Conn {
  socket!: Socket;
  /** the request in flight, -1 when idle */
  current = -1;
  buf: Buffer | undefined;
  constructor() {
    this.open();
  }

  open(): void {
    this.buf = undefined;
    const s = connect({ host: url.hostname, port: Number(url.port), noDelay: true });
    this.socket = s;
    s.on('connect', () => {
      idle.push(this);
      pump();
    });
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', () => {});
    s.on('close', () => {
      if (this.socket !== s) return;
      if (this.current >= 0) this.fail();
      const at = idle.indexOf(this);
      if (at >= 0) idle.splice(at, 1);
      // a server that went away must not turn this into a busy reconnect loop
      if (!finished) setTimeout(() => this.open(), RECONNECT_DELAY_MS);
    });
  }

  send(i: number): void {
    this.current = i;
    this.socket.write(requestBytes);
  }

  private fail(): void {
    if (this.current >= warmup) errors++;
    this.current = -1;
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
    const buf = this.buf;
    const end = buf.indexOf(HEAD_END);
    if (end === -1) return;
    const head = buf.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
    let total: number;
    if (length !== null) {
      total = end + 4 + Number(length[1]);
      if (buf.length < total) return;
    } else if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) {
      const done = chunkedEnd(buf, end + 4);
      if (done === -1) return;
      total = done;
    } else {
      // no framing this reader knows: count it and start over on a new connection
      this.socket.destroy();
      return;
    }
    if (buf.length > total) {
      // one request at a time: more bytes than one answer is a protocol error
      this.socket.destroy();
      return;
    }
    this.buf = undefined;
    const i = this.current;
    this.current = -1;
    const now = performance.now();
    lastDone = now;
    if (i >= warmup) {
      if (status >= 200 && status < 300) ok++;
      else non2xx++;
      latencies[recorded++] = now - (t0 + i * interval);
    }
    if (waitingHead < waiting.length) this.send(waiting[waitingHead++]);
    else idle.push(this);
    pump();
  }
}

/** Where a chunked body starting at `from` ends, or -1 when it has not all arrived. */
function chunkedEnd(buf: Buffer, from: number): number {
  let at = from;
  for (;;) {
    const eol = buf.indexOf(CRLF, at);
    if (eol === -1) return -1;
    const size = Number.parseInt(buf.toString('latin1', at, eol), 16);
    if (size === 0) return buf.length >= eol + 4 ? eol + 4 : -1;
    at = eol + 2 + size + 2;
    if (at > buf.length) return -1;
  }
}

/** Send every request now due: on an idle connection, else into the queue. */
function pump(): void {
  if (t0 === 0) return; // connections still opening: nothing is due yet
  const now = performance.now();
  const due = Math.min(total, Math.floor((now - t0) / interval) + 1);
  while (sent < due) {
    const i = sent++;
    if (i >= warmup && now - (t0 + i * interval) > LATE_MS) lateSends++;
    const c = idle.pop();
    if (c !== undefined) c.send(i);
    else waiting.push(i);
  }
  if (waitingHead > 4096 && waitingHead * 2 > waiting.length) {
    waiting.splice(0, waitingHead);
    waitingHead = 0;
  }
}

let finished = false;
const conns = Array.from({ length: opts.connections }, () => new Conn());
await new Promise<void>((resolve) => {
  const until = performance.now() + CONNECT_TIMEOUT_MS;
  const check = () => {
    if (idle.length === conns.length) resolve();
    else if (performance.now() > until) {
      process.stderr.write(
        `fixed-rate runner: ${idle.length} of ${conns.length} connections to ${url.host} opened\n`,
      );
      process.exit(1);
    } else setTimeout(check, 5);
  };
  check();
});

const cpu0 = process.cpuUsage();
const wall0 = performance.now();
t0 = performance.now();
const timer = setInterval(pump, 1);
const scheduleEnd = t0 + total * interval;
await new Promise<void>((resolve) => {
  const check = () => {
    const inFlight = conns.some((c) => c.current >= 0) || waitingHead < waiting.length;
    if (sent >= total && (!inFlight || performance.now() - scheduleEnd > DRAIN_TIMEOUT_MS)) resolve();
    else setTimeout(check, 5);
  };
  check();
});
clearInterval(timer);
finished = true;
const timeouts = conns.filter((c) => c.current >= warmup).length + (waiting.length - waitingHead);
const cpu = process.cpuUsage(cpu0);
const wall = (performance.now() - wall0) / 1000;
for (const c of conns) c.socket.destroy();

const lat = latencies.subarray(0, recorded).sort();
const pct = (p: number) =>
  lat.length === 0 ? 0 : lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)];
const round = (v: number) => Math.round(v * 100) / 100;
const seconds = (lastDone - (t0 + warmup * interval)) / 1000;
process.stdout.write(
  `${JSON.stringify({
    rps: recorded / seconds,
    requests: recorded + errors + timeouts,
    seconds,
    ok,
    p50Ms: round(pct(0.5)),
    p90Ms: round(pct(0.9)),
    p99Ms: round(pct(0.99)),
    p999Ms: round(pct(0.999)),
    maxMs: round(lat.length === 0 ? 0 : lat[lat.length - 1]),
    errors,
    timeouts,
    non2xx,
    lateSends,
    genCpu: (cpu.user + cpu.system) / 1e6 / wall,
  })}\n`,
);
process.exit(0);
