/**
 * Pauses a StatefulSet for the length of a job (scale to 0, wait until its pods are gone, run, scale
 * back), talking to the Kubernetes API with the pod's service-account token. Used by the dev overlay's
 * DuckDB backup CronJob: DuckDB admits one writer per file, so `furrow up` must release the warehouse
 * before `furrow backup` can take its consistent copy. `furrow up` drains on SIGTERM (spool → streams →
 * warehouse) before it exits, so nothing acknowledged is lost; trackers retry during the pause.
 *
 * The original replica count is restored in a `finally`, also when the job fails or the process gets
 * SIGTERM (the CronJob's deadline), so a failed backup never leaves the pipeline scaled to zero.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeApi {
  /** e.g. `https://10.0.0.1:443` */
  base: string;
  token: string;
  ca?: string;
  namespace: string;
}

/** The in-cluster API endpoint and credentials of this pod. */
export function inClusterApi(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): KubeApi {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (host === undefined) throw new Error('not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST unset)');
  return {
    base: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    token: readFileSync(`${dir}/token`, 'utf8').trim(),
    ca: readFileSync(`${dir}/ca.crt`, 'utf8'),
    namespace: readFileSync(`${dir}/namespace`, 'utf8').trim(),
  };
}

async function call(api: KubeApi, method: string, path: string, body?: unknown): Promise<unknown> {
  const url = new URL(path, api.base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: api.ca,
        headers: {
          authorization: `Bearer ${api.token}`,
          accept: 'application/json',
          ...(payload === undefined
            ? {}
            : {
                'content-type': 'application/merge-patch+json',
                'content-length': Buffer.byteLength(payload),
              }),
        },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 300) {
            reject(new Error(`${method} ${url.pathname}: HTTP ${res.statusCode} ${text.slice(0, 300)}`));
          } else resolve(text === '' ? {} : JSON.parse(text));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

interface StatefulSetLike {
  spec: { replicas?: number; selector: { matchLabels?: Record<string, string> } };
}

export async function withStatefulSetPaused<T>(
  api: KubeApi,
  name: string,
  fn: () => Promise<T>,
  opts: { timeoutMs?: number; pollMs?: number; log?: (msg: string) => void } = {},
): Promise<T> {
  const log = opts.log ?? (() => {});
  const sts = `/apis/apps/v1/namespaces/${encodeURIComponent(api.namespace)}/statefulsets/${encodeURIComponent(name)}`;
  const current = (await call(api, 'GET', sts)) as StatefulSetLike;
  const replicas = current.spec.replicas ?? 1;
  const labels = Object.entries(current.spec.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (labels === '') throw new Error(`statefulset ${name} has no matchLabels selector`);
  const restore = async () => {
    await call(api, 'PATCH', `${sts}/scale`, { spec: { replicas } });
    log(`statefulset ${name}: scaled back to ${replicas}`);
  };
  const onSignal = () => {
    restore().finally(() => process.exit(1));
  };
  process.once('SIGTERM', onSignal);
  try {
    await call(api, 'PATCH', `${sts}/scale`, { spec: { replicas: 0 } });
    log(`statefulset ${name}: scaled to 0 (was ${replicas}), waiting for its pods to drain and exit`);
    const pods = `/api/v1/namespaces/${encodeURIComponent(api.namespace)}/pods?labelSelector=${encodeURIComponent(labels)}`;
    const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const list = (await call(api, 'GET', pods)) as { items?: unknown[] };
      if ((list.items ?? []).length === 0) break;
      if (Date.now() > deadline) throw new Error(`statefulset ${name}: pods still running at the deadline`);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 2000));
    }
    return await fn();
  } finally {
    process.removeListener('SIGTERM', onSignal);
    await restore();
  }
}
