/**
 * A loopback HTTP server that records every request a real tracker sends and turns each into the
 * `CollectorPayload` Furrow's collector would store, so enrich tests start from genuine tracker traffic.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildCollectorPayload } from '../../src/collector/payload-builder.js';
import type { CollectorPayload } from '../../src/protocol/collector-payload.js';

export interface CapturedRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  body: string | undefined;
  remoteAddress: string | undefined;
}

export interface CaptureServer {
  port: number;
  requests: CapturedRequest[];
  payloads(timestamp?: number): CollectorPayload[];
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startCaptureServer(): Promise<CaptureServer> {
  const requests: CapturedRequest[] = [];
  const server = createServer(async (req, res) => {
    const body = req.method === 'POST' ? await readBody(req) : undefined;
    requests.push({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      rawHeaders: req.rawHeaders,
      body,
      remoteAddress: req.socket.remoteAddress,
    });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    payloads(timestamp = Date.now()) {
      return requests.map((r) => {
        const q = r.url.indexOf('?');
        return buildCollectorPayload(
          {
            path: q === -1 ? r.url : r.url.slice(0, q),
            querystring: q === -1 ? '' : r.url.slice(q + 1),
            rawHeaders: r.rawHeaders,
            body: r.body,
            ipAddress: r.remoteAddress,
            networkUserId: 'c4b3b0a2-5f2e-4f6e-9d1a-2b3c4d5e6f70',
          },
          { collector: 'furrow-test-collector', timestamp },
        );
      });
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
