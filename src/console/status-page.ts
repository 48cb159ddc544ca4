/**
 * The small status page of `furrow up` (`/status`, and `/status.json` for scripts): what is running,
 * where the data is, how many events went where, and the links a new user needs next.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface StatusSnapshot {
  version: string;
  startedAt: string;
  dataDir: string;
  ready: boolean;
  collectorUrl: string;
  counts: Record<string, number>;
  spool: Record<string, unknown>;
  lag: Record<string, number>;
  warehouse: string;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

function html(s: StatusSnapshot): string {
  const rows = (o: Record<string, unknown>) =>
    Object.entries(o)
      .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`)
      .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Furrow</title>
<meta http-equiv="refresh" content="5">
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:60em}th{text-align:left;padding-right:2em;font-weight:500}
h2{margin-top:1.5em;font-size:1.1em}code{background:#f3f3f3;padding:0 .3em}</style></head><body>
<h1>Furrow ${esc(s.version)} ${s.ready ? '— ready' : '— not ready'}</h1>
<p>Collector: <code>${esc(s.collectorUrl)}</code> (point a Snowplow tracker here). Data: <code>${esc(s.dataDir)}</code>.
Warehouse: <code>${esc(s.warehouse)}</code>. Started ${esc(s.startedAt)}.</p>
<p><a href="/micro/good">/micro/good</a> · <a href="/micro/bad">/micro/bad</a> · <a href="/micro/all">/micro/all</a> ·
<a href="/metrics">/metrics</a> · <a href="/status.json">/status.json</a></p>
<h2>Events</h2><table>${rows(s.counts)}</table>
<h2>Spool</h2><table>${rows(s.spool)}</table>
<h2>Stream lag (records)</h2><table>${rows(s.lag)}</table>
</body></html>`;
}

export function createStatusHandler(snapshot: () => Promise<StatusSnapshot>) {
  return async (_req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (url.pathname !== '/status' && url.pathname !== '/status.json') return false;
    const s = await snapshot();
    if (url.pathname === '/status.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(s));
    } else {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html(s));
    }
    return true;
  };
}
