import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { withStatefulSetPaused } from './pause.js';

/** a fake API server: one StatefulSet whose pod disappears two polls after a scale to 0 */
async function fakeApi() {
  const calls: string[] = [];
  let replicas = 1;
  let podPolls = 0;
  const body = (req: IncomingMessage) =>
    new Promise<string>((r) => {
      let s = '';
      req.on('data', (d) => {
        s += d;
      });
      req.on('end', () => r(s));
    });
  const server = createServer(async (req, res) => {
    const text = await body(req);
    assert.equal(req.headers.authorization, 'Bearer tok');
    calls.push(`${req.method} ${req.url}${text === '' ? '' : ` ${text}`}`);
    res.setHeader('content-type', 'application/json');
    if (req.url === '/apis/apps/v1/namespaces/furrow/statefulsets/furrow' && req.method === 'GET') {
      res.end(
        JSON.stringify({
          spec: { replicas, selector: { matchLabels: { 'app.kubernetes.io/name': 'furrow' } } },
        }),
      );
    } else if (req.url?.endsWith('/scale') && req.method === 'PATCH') {
      assert.equal(req.headers['content-type'], 'application/merge-patch+json');
      replicas = (JSON.parse(text) as { spec: { replicas: number } }).spec.replicas;
      res.end('{}');
    } else if (req.url?.startsWith('/api/v1/namespaces/furrow/pods?labelSelector=')) {
      podPolls++;
      res.end(JSON.stringify({ items: replicas === 0 && podPolls > 2 ? [] : [{}] }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const api = {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: 'tok',
    namespace: 'furrow',
  };
  return { api, calls, server, replicas: () => replicas };
}

describe('withStatefulSetPaused', () => {
  it('scales to 0, waits for the pods to go, runs, scales back', async () => {
    const f = await fakeApi();
    try {
      const seen: number[] = [];
      const r = await withStatefulSetPaused(
        f.api,
        'furrow',
        async () => {
          seen.push(f.replicas());
          return 42;
        },
        { pollMs: 5 },
      );
      assert.equal(r, 42);
      assert.deepEqual(seen, [0], 'the job ran while the StatefulSet was at 0');
      assert.equal(f.replicas(), 1);
      assert.ok(f.calls.some((c) => c.includes('labelSelector=app.kubernetes.io%2Fname%3Dfurrow')));
    } finally {
      f.server.close();
    }
  });

  it('scales back even when the job fails', async () => {
    const f = await fakeApi();
    try {
      await assert.rejects(
        withStatefulSetPaused(
          f.api,
          'furrow',
          async () => {
            throw new Error('backup failed');
          },
          { pollMs: 5 },
        ),
        /backup failed/,
      );
      assert.equal(f.replicas(), 1);
      assert.match(f.calls.at(-1) ?? '', /PATCH .*\/scale \{"spec":\{"replicas":1\}\}/);
    } finally {
      f.server.close();
    }
  });
});
