/**
 * A lean HTTP/1.1 reader for the collector's tracking requests, in front of node:http.
 *
 * Why by hand: a tracking request is a short GET or POST answered with a few fixed headers, and in a
 * CPU profile of the pixel route node:http's per-request machinery (IncomingMessage and ServerResponse
 * streams, header objects, events) was the largest part of the event loop's time. With this reader
 * (and the other changes listed in BENCHMARKS.md) CPU per pixel request fell from 30.2 to 23.6 µs.
 *
 * It only takes what it fully understands: `GET`/`HEAD`/`POST`/`OPTIONS` over HTTP/1.1, a head within
 * node's 16 KiB limit made of token names and values without control characters, a body framed by one
 * plain `Content-Length`, and a path the caller claims. Anything else (chunked bodies, `Expect`,
 * upgrades, HTTP/1.0, odd framing, malformed heads, health, metrics, Micro) hands the connection with
 * its unread bytes to node:http for good, which answers it as before. So node:http stays the judge of
 * everything unusual and this code never has to be.
 *
 * Requests on one connection are answered in order: the next head is read only once the current
 * response is written (pipelined bytes wait, with the socket paused past a small bound).
 */

import { isAscii } from 'node:buffer';
import { type OutgoingHttpHeaders, type Server, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { BodyTooLarge, type CollectorExchange } from '../collector/handler.js';
import { readLatin1, writeLatin1 } from '../protocol/latin1.js';

/** node:http's default `maxHeaderSize` */
const MAX_HEAD_BYTES = 16 * 1024;
/** pipelined bytes held while a request is handled before the socket is paused */
const MAX_PENDING_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
/**
 * The whole head this reader serves: request line, then `\r\n`-separated header lines with token names
 * and values of HTAB, visible ASCII and obs-text (what node:http accepts in a value). Each part's
 * characters exclude the next separator, so matching is linear.
 */
const HEAD_RE =
  /^(GET|HEAD|POST|OPTIONS) (\/[!-~]*) HTTP\/1\.1((?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*)*)$/;
const CONTENT_LENGTH_RE = /^\d{1,15}$/;
/** node:http refuses these in header values (ERR_INVALID_CHAR) */
const INVALID_VALUE_RE = /[^\t\x20-\x7e\x80-\xff]/;
const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const validNames = new Set<string>();

export interface FastPathOptions {
  /** whether this reader answers `method path`; false hands the connection to node:http */
  claims(method: string, path: string): boolean;
  handle(ex: CollectorExchange): void;
  /** idle time between requests before the connection is closed (node:http's keepAliveTimeout) */
  keepAliveTimeoutMs: number;
  /** time for a request head to arrive once its first bytes did (node:http's headersTimeout) */
  headersTimeoutMs: number;
}

let dateSecond = -1;
let dateValue = '';
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/**
 * What is left of `buf` past `from`, or undefined when nothing is: an empty view would still hold the
 * whole socket read (a 64 KiB allocation) alive between requests, long enough for the GC to promote
 * it; on the POST bench that churn forced a full mark-compact about every second.
 */
function rest(buf: Buffer | undefined, from: number): Buffer | undefined {
  return buf === undefined || from >= buf.length ? undefined : buf.subarray(from);
}

function trimOws(v: string): string {
  let a = 0;
  let b = v.length;
  while (a < b && (v.charCodeAt(a) === 0x20 || v.charCodeAt(a) === 0x09)) a++;
  while (b > a && (v.charCodeAt(b - 1) === 0x20 || v.charCodeAt(b - 1) === 0x09)) b--;
  return a === 0 && b === v.length ? v : v.slice(a, b);
}

function invalidValue(name: string): Error {
  return Object.assign(new TypeError(`Invalid character in header content ["${name}"]`), {
    code: 'ERR_INVALID_CHAR',
  });
}

class FastExchange implements CollectorExchange {
  responded = false;
  /** body bytes not yet read from the connection (skipped after the response if never read) */
  bodyLeft: number;
  constructor(
    private readonly conn: FastConnection,
    readonly method: string,
    readonly url: string,
    readonly rawHeaders: string[],
    readonly lowerNames: string[],
    readonly bodyLength: number,
    readonly closeAfter: boolean,
    readonly asciiHead: boolean,
  ) {
    this.bodyLeft = bodyLength;
  }

  get remoteAddress(): string | undefined {
    return this.conn.socket.remoteAddress;
  }

  header(name: string): string | undefined {
    let v: string | undefined;
    const names = this.lowerNames;
    for (let i = 0; i < names.length; i++) {
      if (names[i] !== name) continue;
      const value = this.rawHeaders[2 * i + 1];
      // joined as node:http joins repeated request headers
      v = v === undefined ? value : `${v}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
    return v;
  }

  readBody(limit: number, timeoutMs: number): Promise<Buffer> {
    if (this.bodyLength > limit) return Promise.reject(new BodyTooLarge());
    return this.conn.takeBody(this, timeoutMs);
  }

  respond(status: number, headers: OutgoingHttpHeaders | string[], body?: string | Buffer): void {
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    let hasLength = false;
    let close = this.closeAfter || this.conn.closing || this.conn.peerEnded;
    const add = (name: string, value: string) => {
      if (!validNames.has(name)) {
        if (!TOKEN_RE.test(name))
          throw Object.assign(new TypeError(`Header name must be a valid HTTP token ["${name}"]`), {
            code: 'ERR_INVALID_HTTP_TOKEN',
          });
        // names come from code and configuration, not from requests: the set stays small
        validNames.add(name);
      }
      if (INVALID_VALUE_RE.test(value)) throw invalidValue(name);
      const lower = name.length === 14 || name.length === 10 ? name.toLowerCase() : '';
      if (lower === 'content-length') hasLength = true;
      else if (lower === 'connection') {
        if (value.toLowerCase() === 'close') close = true;
        return;
      }
      head += `${name}: ${value}\r\n`;
    };
    if (Array.isArray(headers)) {
      for (let i = 0; i < headers.length; i += 2) add(headers[i], headers[i + 1]);
    } else {
      for (const name of Object.keys(headers)) {
        const v = headers[name];
        if (v === undefined) continue;
        if (Array.isArray(v)) for (const one of v) add(name, one);
        else add(name, String(v));
      }
    }
    const payload = this.method === 'HEAD' || body === undefined ? undefined : body;
    const bodyBytes =
      payload === undefined ? 0 : typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (!hasLength) head += `Content-Length: ${bodyBytes}\r\n`;
    head += `Date: ${httpDate()}\r\n`;
    head += close ? 'Connection: close\r\n\r\n' : this.conn.front.keepAliveHeader;
    this.responded = true;
    this.conn.finish(this, head, payload, bodyBytes, close);
  }
}

class FastConnection {
  /** bytes read and not yet consumed */
  private buf: Buffer | undefined;
  private current: FastExchange | undefined;
  /** body bytes of an answered request still to be discarded */
  private skip = 0;
  private bodyWait:
    | { ex: FastExchange; resolve(b: Buffer): void; reject(e: Error): void; timer: NodeJS.Timeout }
    | undefined;
  private done = false;
  /** running while part of a head is here: a head must arrive whole within headersTimeoutMs */
  private headTimer: NodeJS.Timeout | undefined;
  closing = false;
  /** the client has ended its side: the current answer is the last */
  peerEnded = false;

  constructor(
    readonly socket: Socket,
    readonly front: FastFront,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(front.opts.keepAliveTimeoutMs);
    socket.on('data', this.onData);
    socket.on('timeout', this.onTimeout);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('end', this.onEnd);
  }

  get idle(): boolean {
    return this.current === undefined && (this.buf === undefined || this.buf.length === 0);
  }

  private readonly onData = (chunk: Buffer): void => {
    // after a closing answer (e.g. 413 for a body over the limit) the rest is not read into memory
    if (this.done) return;
    this.buf = this.buf === undefined || this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.bodyWait !== undefined) this.tryBody();
    if (this.current === undefined) this.next();
    else if (this.buf !== undefined && this.buf.length > MAX_PENDING_BYTES + this.current.bodyLeft)
      this.socket.pause();
  };

  private readonly onTimeout = (): void => {
    // an idle keep-alive connection ends; one waiting for its answer (durable storage) is left alone
    if (this.current === undefined) this.socket.destroy();
  };

  /** The client sent FIN (node:http's server sockets are half-open): answer what is pending, then end. */
  private readonly onEnd = (): void => {
    this.peerEnded = true;
    if (this.current === undefined) {
      // a whole request may still be buffered (sent just before the FIN): it gets its answer first
      if (this.buf !== undefined && this.buf.length > 0) this.next();
      if (this.current === undefined && !this.done) {
        this.done = true;
        this.socket.end();
      }
    }
  };

  private readonly onError = (): void => {
    this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.done = true;
    clearTimeout(this.headTimer);
    this.front.forget(this);
    if (this.bodyWait !== undefined) {
      clearTimeout(this.bodyWait.timer);
      this.bodyWait.reject(new Error('connection closed'));
      this.bodyWait = undefined;
    }
  };

  /** Read the next request head, if a whole one is here. */
  private next(): void {
    while (!this.done && this.current === undefined) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buf?.length ?? 0);
        this.skip -= n;
        this.buf = rest(this.buf, n);
        if (this.skip > 0) return;
      }
      const buf = this.buf;
      if (buf === undefined || buf.length === 0) return;
      const end = buf.indexOf(HEAD_END);
      if (end === -1) {
        if (buf.length > MAX_HEAD_BYTES) this.handOff();
        // an idle timeout alone would let a head trickle in forever (slowloris)
        else this.headTimer ??= setTimeout(() => this.socket.destroy(), this.front.opts.headersTimeoutMs);
        return;
      }
      if (this.headTimer !== undefined) {
        clearTimeout(this.headTimer);
        this.headTimer = undefined;
      }
      if (end + 4 > MAX_HEAD_BYTES || this.closing) {
        if (this.closing) this.socket.destroy();
        else this.handOff();
        return;
      }
      const head = buf.subarray(0, end);
      const ex = this.parse(readLatin1(head, 0, head.length), isAscii(head));
      if (ex === undefined) {
        this.handOff();
        return;
      }
      this.buf = rest(buf, end + 4);
      // The keep-alive timer stays armed (every read and write restarts it); onTimeout leaves a
      // connection with a request in flight alone. Disarming and re-arming it per request was ~1 % of
      // the collector's allocations.
      this.current = ex;
      try {
        this.front.opts.handle(ex);
      } catch {
        // node:http would let a throwing handler take the process down; one request is not worth that
        if (!ex.responded) ex.respond(500, ['Content-Type', 'text/plain'], 'Internal Server Error');
        else this.socket.destroy();
      }
    }
  }

  private parse(head: string, ascii: boolean): FastExchange | undefined {
    const m = HEAD_RE.exec(head);
    if (m === null) return undefined;
    const method = m[1];
    const url = m[2];
    const q = url.indexOf('?');
    if (!this.front.opts.claims(method, q === -1 ? url : url.slice(0, q))) return undefined;
    const rawHeaders: string[] = [];
    const lowerNames: string[] = [];
    let contentLength: number | undefined;
    let close = false;
    const lines = m[3];
    let at = 2; // past the leading \r\n
    while (at < lines.length) {
      let eol = lines.indexOf('\r\n', at);
      if (eol === -1) eol = lines.length;
      const colon = lines.indexOf(':', at);
      const name = lines.slice(at, colon);
      const value = trimOws(lines.slice(colon + 1, eol));
      const lower = name.toLowerCase();
      switch (lower) {
        case 'content-length':
          if (contentLength !== undefined || !CONTENT_LENGTH_RE.test(value)) return undefined;
          contentLength = Number(value);
          break;
        case 'connection': {
          for (const t of value.toLowerCase().split(',')) {
            const token = t.trim();
            if (token === 'close') close = true;
            else if (token === 'upgrade') return undefined;
          }
          break;
        }
        case 'transfer-encoding':
        case 'expect':
        case 'upgrade':
          return undefined;
      }
      rawHeaders.push(name, value);
      lowerNames.push(lower);
      at = eol + 2;
    }
    if (method === 'POST' ? contentLength === undefined : (contentLength ?? 0) !== 0) return undefined;
    return new FastExchange(this, method, url, rawHeaders, lowerNames, contentLength ?? 0, close, ascii);
  }

  takeBody(ex: FastExchange, timeoutMs: number): Promise<Buffer> {
    if (ex !== this.current || ex.bodyLeft !== ex.bodyLength || this.bodyWait !== undefined)
      return Promise.reject(new Error('body already read'));
    const buf = this.buf;
    if (buf !== undefined && buf.length >= ex.bodyLength) {
      // the usual case: the body came with the head, no timer needed
      this.buf = rest(buf, ex.bodyLength);
      ex.bodyLeft = 0;
      return Promise.resolve(buf.subarray(0, ex.bodyLength));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.bodyWait = undefined;
        reject(new Error('body read timeout'));
      }, timeoutMs);
      this.bodyWait = { ex, resolve, reject, timer };
      this.socket.resume();
      this.tryBody();
    });
  }

  private tryBody(): void {
    const w = this.bodyWait!;
    const buf = this.buf;
    if (buf === undefined || buf.length < w.ex.bodyLength) return;
    this.bodyWait = undefined;
    clearTimeout(w.timer);
    this.buf = rest(buf, w.ex.bodyLength);
    w.ex.bodyLeft = 0;
    w.resolve(buf.subarray(0, w.ex.bodyLength));
  }

  finish(
    ex: FastExchange,
    head: string,
    body: string | Buffer | undefined,
    bodyBytes: number,
    close: boolean,
  ) {
    if (ex !== this.current) return;
    if (!this.done) {
      const headBytes = head.length;
      const out = Buffer.allocUnsafe(headBytes + bodyBytes);
      writeLatin1(out, head, 0);
      if (typeof body === 'string') out.write(body, headBytes, 'utf8');
      else if (body !== undefined) out.set(body, headBytes);
      if (close) {
        this.done = true;
        this.socket.end(out);
        // a client that never reads must not keep the socket
        this.socket.setTimeout(this.front.opts.keepAliveTimeoutMs, () => this.socket.destroy());
        return;
      }
      this.socket.write(out);
    }
    this.current = undefined;
    if (this.bodyWait !== undefined) {
      clearTimeout(this.bodyWait.timer);
      this.bodyWait = undefined;
    }
    this.skip += ex.bodyLeft;
    if (this.done) return;
    if (this.socket.isPaused()) this.socket.resume();
    this.next();
  }

  /** Give the connection, and whatever it has sent that is not consumed, to node:http. */
  private handOff(): void {
    this.done = true;
    const s = this.socket;
    s.removeListener('data', this.onData);
    s.removeListener('timeout', this.onTimeout);
    s.removeListener('error', this.onError);
    s.removeListener('close', this.onClose);
    s.removeListener('end', this.onEnd);
    s.setTimeout(0);
    clearTimeout(this.headTimer);
    this.front.forget(this);
    const rest = this.buf;
    this.buf = undefined;
    if (rest !== undefined && rest.length > 0) s.unshift(rest);
    this.front.toNode(s);
    if (s.isPaused()) s.resume();
  }
}

class FastFront {
  private readonly conns = new Set<FastConnection>();
  readonly keepAliveHeader: string;
  constructor(
    readonly opts: FastPathOptions,
    readonly toNode: (s: Socket) => void,
  ) {
    this.keepAliveHeader = `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(opts.keepAliveTimeoutMs / 1000)}\r\n\r\n`;
  }
  accept(socket: Socket): void {
    this.conns.add(new FastConnection(socket, this));
  }
  forget(c: FastConnection): void {
    this.conns.delete(c);
  }
  closeIdle(): void {
    for (const c of this.conns) {
      if (c.idle) c.socket.destroy();
      else c.closing = true;
    }
  }
  closeAll(): void {
    for (const c of this.conns) c.socket.destroy();
  }
}

/**
 * Put the fast reader in front of `server`: every new connection starts with it and moves to
 * node:http on the first request it does not take. `server.close()`, `closeIdleConnections()` and
 * `closeAllConnections()` cover both kinds of connection.
 */
export function attachFastPath(server: Server, opts: FastPathOptions): void {
  const nodeListeners = server.listeners('connection') as Array<(s: Socket) => void>;
  server.removeAllListeners('connection');
  // node:http documents emitting 'connection' to inject a socket; its own listener does the work
  const front = new FastFront(opts, (s) => {
    for (const l of nodeListeners) l.call(server, s);
  });
  server.on('connection', (s: Socket) => front.accept(s));
  const closeIdle = server.closeIdleConnections.bind(server);
  const closeAll = server.closeAllConnections.bind(server);
  server.closeIdleConnections = () => {
    closeIdle();
    front.closeIdle();
  };
  server.closeAllConnections = () => {
    closeAll();
    front.closeAll();
  };
}
