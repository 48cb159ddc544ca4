import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type CollectorExchange, nodeExchange } from '../collector/handler.js';
import { attachFastPath } from './fast-http.js';

/** Answers with what it saw, naming the reader that served the request. */
async function answer(ex: CollectorExchange, via: string): Promise<void> {
  const path = ex.url.split('?')[0];
  if (path === '/redirect') {
    ex.respond(302, ['Location', 'https://example.com/\r\nSet-Cookie: x=1']);
    return;
  }
  // an answer that waits longer than the short keep-alive timeout below (a slow durable write)
  if (path === '/slow') await new Promise((r) => setTimeout(r, 600));
  let body = '';
  if (ex.method === 'POST' && path !== '/ignore-body') {
    try {
      body = (await ex.readBody(1000, 2000)).toString('utf8');
    } catch {
      ex.respond(413, ['Connection', 'close'], 'too large');
      return;
    }
  }
  const seen = {
    via,
    method: ex.method,
    url: ex.url,
    cookie: ex.header('cookie') ?? null,
    xff: ex.header('x-forwarded-for') ?? null,
    body,
    raw: ex.rawHeaders.length,
  };
  ex.respond(200, ['Content-Type', 'application/json'], JSON.stringify(seen));
}

function start(
  headersTimeoutMs = 66_000,
  keepAliveTimeoutMs = 65_000,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('node-health');
      return;
    }
    answer(nodeExchange(req, res), 'node').catch(() => res.destroy());
  });
  server.keepAliveTimeout = 65_000;
  attachFastPath(server, {
    claims: (_m, path) => path !== '/health',
    handle: (ex) => {
      if (ex.url === '/throw') throw new Error('handler bug');
      answer(ex, 'fast').catch(() => {
        if (!ex.responded) ex.respond(500, [], 'Internal Server Error');
      });
    },
    keepAliveTimeoutMs,
    headersTimeoutMs,
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    ),
  );
}

/** A raw connection that collects whole responses (Content-Length framed, or to the end). */
class Client {
  private data = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  ended = false;
  readonly socket: Socket;
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d) => {
      this.data = Buffer.concat([this.data, d]);
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on('close', () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on('error', () => {});
  }
  send(s: string | Buffer): void {
    this.socket.write(s);
  }
  /** the next whole response: status, headers (lower-case) and body */
  async response(): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    for (;;) {
      const end = this.data.indexOf('\r\n\r\n');
      if (end !== -1) {
        const head = this.data.toString('latin1', 0, end).split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of head.slice(1)) {
          const c = l.indexOf(':');
          headers[l.slice(0, c).toLowerCase()] = l.slice(c + 1).trim();
        }
        const len = headers['content-length'];
        if (len !== undefined && this.data.length >= end + 4 + Number(len)) {
          const body = this.data.toString('utf8', end + 4, end + 4 + Number(len));
          this.data = this.data.subarray(end + 4 + Number(len));
          return { status: Number(head[0].split(' ')[1]), headers, body };
        }
        if (len === undefined && headers['transfer-encoding'] === 'chunked') {
          const term = this.data.indexOf('0\r\n\r\n', end + 4);
          if (term !== -1) {
            const chunked = this.data.toString('utf8', end + 4, term);
            this.data = this.data.subarray(term + 5);
            const body = chunked.replace(/(^|\r\n)[0-9a-f]+\r\n/g, '').replace(/\r\n$/, '');
            return { status: Number(head[0].split(' ')[1]), headers, body };
          }
        }
        if (len === undefined && this.ended) {
          // framed by the end of the connection
          const body = this.data.toString('utf8', end + 4);
          this.data = Buffer.alloc(0);
          return { status: Number(head[0].split(' ')[1]), headers, body };
        }
      }
      if (this.ended) throw new Error(`connection closed; pending ${this.data.toString('latin1')}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  async closed(): Promise<void> {
    while (!this.ended) await new Promise<void>((r) => this.waiters.push(r));
  }
  close(): void {
    this.socket.destroy();
  }
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
const post = (path: string, body: string, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe('fast HTTP reader in front of node:http', () => {
  let s: Awaited<ReturnType<typeof start>>;
  before(async () => {
    s = await start();
  });
  after(() => new Promise<void>((r) => s.server.close(() => r())));

  test('serves claimed requests itself, with node-like framing, and keeps the connection', async () => {
    const c = new Client(s.port);
    c.send(
      get(
        '/i?e=pv',
        'Cookie: a=1\r\nCookie: b=2\r\nX-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\n',
      ),
    );
    const r = await c.response();
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, 'keep-alive');
    assert.equal(r.headers['keep-alive'], 'timeout=65');
    assert.ok(r.headers.date.endsWith('GMT'));
    const seen = JSON.parse(r.body);
    assert.equal(seen.via, 'fast');
    assert.equal(seen.url, '/i?e=pv');
    assert.equal(seen.cookie, 'a=1; b=2', 'repeated Cookie headers joined as node joins them');
    assert.equal(seen.xff, '1.2.3.4, 5.6.7.8');
    assert.equal(seen.raw, 10);
    c.send(post('/t', 'héllo'));
    const p = JSON.parse((await c.response()).body);
    assert.deepEqual([p.via, p.body], ['fast', 'héllo']);
    c.close();
  });

  test('pipelined requests are answered in order; a body split across packets is read whole', async () => {
    const c = new Client(s.port);
    c.send(get('/a') + post('/b', 'one') + get('/c'));
    const urls = [];
    for (let i = 0; i < 3; i++) urls.push(JSON.parse((await c.response()).body).url);
    assert.deepEqual(urls, ['/a', '/b', '/c']);
    const whole = post('/split', 'abcdefghij');
    c.send(whole.slice(0, 20));
    await new Promise((r) => setTimeout(r, 20));
    c.send(whole.slice(20, whole.length - 4));
    await new Promise((r) => setTimeout(r, 20));
    c.send(whole.slice(whole.length - 4));
    assert.equal(JSON.parse((await c.response()).body).body, 'abcdefghij');
    // a body the handler never reads is skipped, and the next request on the connection is intact
    c.send(post('/ignore-body', 'GET /bogus HTTP/1.1\r\n\r\n') + get('/after'));
    assert.equal(JSON.parse((await c.response()).body).url, '/ignore-body');
    assert.equal(JSON.parse((await c.response()).body).url, '/after');
    c.close();
  });

  test('anything it does not take goes to node:http with the unread bytes, for the rest of the connection', async () => {
    const c = new Client(s.port);
    c.send(get('/first') + get('/health') + get('/third'));
    assert.equal(JSON.parse((await c.response()).body).via, 'fast');
    assert.equal((await c.response()).body, 'node-health');
    assert.equal(JSON.parse((await c.response()).body).via, 'node', 'the connection stays with node:http');
    c.close();

    const chunked = new Client(s.port);
    chunked.send(
      'POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
    );
    const r = JSON.parse((await chunked.response()).body);
    assert.deepEqual([r.via, r.body], ['node', 'abcde']);
    chunked.close();

    const http10 = new Client(s.port);
    http10.send('GET /old HTTP/1.0\r\n\r\n');
    assert.equal(JSON.parse((await http10.response()).body).via, 'node');
    http10.close();
  });

  test('malformed heads get node:http answers (400), not a fast-path guess', async () => {
    for (const bad of [
      'GET /i HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n',
      'GET /i HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n',
      'POST /i HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
      'POST /i HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
    ]) {
      const c = new Client(s.port);
      c.send(bad);
      const r = await c.response();
      assert.equal(r.status, 400, JSON.stringify(bad));
      c.close();
    }
  });

  test('a body over the limit is refused and the connection closed; header injection is refused', async () => {
    const c = new Client(s.port);
    c.send(`POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(100)}`);
    const r = await c.response();
    assert.equal(r.status, 413);
    assert.equal(r.headers.connection, 'close');
    await c.closed();

    const thrower = new Client(s.port);
    thrower.send(get('/throw') + get('/after-throw'));
    assert.equal(
      (await thrower.response()).status,
      500,
      'a handler that throws gets a 500, the process lives',
    );
    assert.equal(JSON.parse((await thrower.response()).body).url, '/after-throw');
    thrower.close();

    const inj = new Client(s.port);
    inj.send(get('/redirect'));
    const bad = await inj.response();
    assert.equal(bad.status, 500, 'a CR/LF in a header value is refused as node:http refuses it');
    assert.equal(bad.headers['set-cookie'], undefined);
    inj.close();
  });

  test('the keep-alive timeout ends idle connections, never one whose answer is still coming', {
    timeout: 20_000,
  }, async () => {
    const own = await start(66_000, 200);
    const c = new Client(own.port);
    // answered after 600 ms, three keep-alive timeouts: the connection must survive the wait
    c.send(get('/slow'));
    assert.equal((await c.response()).status, 200);
    // and it is still usable right after, then closes once idle for the timeout
    c.send(get('/x'));
    assert.equal((await c.response()).status, 200);
    const t0 = Date.now();
    await c.closed();
    const idle = Date.now() - t0;
    assert.ok(idle >= 150 && idle < 5_000, `closed after ${idle} ms idle`);
    await new Promise<void>((r) => own.server.close(() => r()));
  });

  test('a head that trickles in is cut off after headersTimeout, however active the connection', {
    timeout: 20_000,
  }, async () => {
    const own = await start(300);
    const c = new Client(own.port);
    const t0 = Date.now();
    c.send('GET /i HTTP/1.1\r\n');
    const drip = setInterval(() => c.send('X-A: b\r\n'), 50);
    await c.closed();
    clearInterval(drip);
    const took = Date.now() - t0;
    assert.ok(took >= 250, `closed after ${took} ms, before the timeout`);
    await new Promise<void>((r) => own.server.close(() => r()));
  });

  test('a client that ends its side after a request gets the answer, then the connection ends', {
    timeout: 10_000,
  }, async () => {
    const c = new Client(s.port);
    c.socket.end(get('/last'));
    const r = await c.response();
    assert.equal(JSON.parse(r.body).url, '/last');
    // without handling the FIN the socket would stay half-open until the 65 s keep-alive timeout
    await c.closed();
  });

  test('Connection: close is honoured, and closing the server ends idle fast connections', async () => {
    const c = new Client(s.port);
    c.send(get('/bye', 'Connection: close\r\n'));
    const r = await c.response();
    assert.equal(r.headers.connection, 'close');
    await c.closed();

    const own = await start();
    const idle = new Client(own.port);
    idle.send(get('/x'));
    await idle.response();
    const closed = new Promise<void>((r) => own.server.close(() => r()));
    await idle.closed();
    await closed;
  });
});
