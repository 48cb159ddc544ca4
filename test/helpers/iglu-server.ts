/**
 * A loopback Iglu registry for tests: the static layout (`/schemas/<vendor>/<name>/<format>/<version>`)
 * and the Iglu Server read API (`/api/schemas/...`), served from a directory laid out like Iglu
 * Central's `schemas/`. It records every request so tests can prove which registry was asked.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';

export interface IgluServerOptions {
  /** directory holding `<vendor>/<name>/<format>/<version>` files */
  schemasRoot: string;
  /**
   * Iglu Server only: when set, schemas are private to this key — a request without it gets 404
   * (as the real server answers for schemas it may not show), a non-UUID key gets 400.
   */
  apikey?: string;
  /** which base `uri` to hand out: the static root, or the server's `/api` (default 'static') */
  mode?: 'static' | 'server';
}

export interface IgluServer {
  /** base URI for a resolver `http.uri` */
  uri: string;
  /** `GET /path` for every request, in arrival order */
  requests: string[];
  /** the `apikey` header of every request (undefined when absent), parallel to `requests` */
  apikeys: Array<string | undefined>;
  /** answer every request with this status (e.g. 503) until set back to null */
  failWith(status: number | null): void;
  close(): Promise<void>;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const SEGMENT = /^[a-zA-Z0-9\-_.]+$/;

export async function startIgluServer(opts: IgluServerOptions): Promise<IgluServer> {
  const root = resolve(opts.schemasRoot);
  const requests: string[] = [];
  const apikeys: Array<string | undefined> = [];
  let failure: number | null = null;

  async function readSchema(segs: string[]): Promise<string | null> {
    if (segs.length !== 4 || !segs.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) return null;
    const file = join(root, ...segs);
    if (!file.startsWith(root + sep)) return null;
    try {
      return await readFile(file, 'utf8');
    } catch {
      return null;
    }
  }

  async function listModel(segs: string[]): Promise<string[] | null> {
    const [vendor, name, format, model] = segs;
    if (!segs.every((s) => SEGMENT.test(s) && s !== '.' && s !== '..')) return null;
    try {
      const versions = await readdir(join(root, vendor, name, format));
      const uris = versions
        .filter((v) => v.startsWith(`${model}-`))
        .map((v) => `iglu:${vendor}/${name}/${format}/${v}`);
      return uris.length > 0 ? uris : null;
    } catch {
      return null;
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const apikey = req.headers.apikey as string | undefined;
    requests.push(`${req.method} ${url.pathname}`);
    apikeys.push(apikey);
    const send = (status: number, body: unknown, type = 'application/json') => {
      const text = typeof body === 'string' && type !== 'application/json' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': type }).end(text);
    };
    void (async () => {
      if (failure !== null) return send(failure, { message: 'Service Unavailable' });
      if (req.method !== 'GET') return send(405, { message: 'Method not allowed' });
      const parts = url.pathname
        .split('/')
        .filter((s) => s !== '')
        .map(decodeURIComponent);
      if (parts[0] === 'schemas') {
        const text = await readSchema(parts.slice(1));
        return text === null ? send(404, 'Not Found', 'text/plain') : send(200, text, 'text/plain');
      }
      if (parts[0] !== 'api') return send(404, 'Not Found', 'text/plain');
      if (parts[1] === 'meta' && parts[2] === 'health') return send(200, 'OK', 'text/plain');
      if (parts[1] !== 'schemas') return send(404, { message: 'The requested resource could not be found' });
      if (apikey !== undefined && !UUID.test(apikey))
        return send(400, { message: 'Invalid UUID for ApiKey' });
      const permitted = opts.apikey === undefined || apikey === opts.apikey;
      const segs = parts.slice(2);
      if (segs.length === 4 && /^[0-9]+$/.test(segs[3])) {
        const list = permitted ? await listModel(segs) : null;
        return list === null ? send(404, { message: 'No schemas available' }) : send(200, list);
      }
      const text = permitted ? await readSchema(segs) : null;
      if (text === null) return send(404, { message: 'The schema is not found' });
      res.writeHead(200, { 'content-type': 'application/json' }).end(text);
    })().catch((e: Error) => send(500, { message: e.message }));
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    uri: opts.mode === 'server' ? `${base}/api` : base,
    requests,
    apikeys,
    failWith(status) {
      failure = status;
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
