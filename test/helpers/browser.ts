/**
 * Real-browser support: Debian's Chromium driven by playwright-core (never a downloaded browser), and a
 * loopback site that serves a page running the official `@snowplow/browser-tracker` UMD build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Chromium's path, or undefined after skipping (failing under CI=true) when it is not installed. */
export function requireChromium(t: TestContext): string | undefined {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
  if (process.env.CI === 'true') throw new Error(`${reason}; required under CI=true`);
  console.log(`# skipped: ${reason}`);
  t.skip(reason);
  return undefined;
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const SCRIPTS: Record<string, string> = {
  '/sp.js': 'node_modules/@snowplow/browser-tracker/dist/index.umd.min.js',
  '/link-click.js': 'node_modules/@snowplow/browser-plugin-link-click-tracking/dist/index.umd.min.js',
};

/**
 * A page that loads the tracker pointed at `collector` and tracks a page view, activity (page pings),
 * link clicks, a structured event and a self-describing event with an entity.
 */
export function trackerPage(collector: string, method: 'post' | 'get'): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Furrow test page</title>
<script src="/sp.js"></script><script src="/link-click.js"></script></head>
<body style="height:4000px">
<a id="docs" href="#docs-section" class="nav primary">Docs</a>
<div id="docs-section" style="margin-top:3000px">bottom</div>
<script>
  const sp = window.snowplowBrowserTracking;
  const lc = window.snowplowLinkClickTracking;
  sp.newTracker('sp1', '${collector}', {
    appId: 'browser-app',
    eventMethod: '${method}',
    plugins: [lc.LinkClickTrackingPlugin()],
    contexts: { webPage: true },
  });
  sp.enableActivityTracking({ minimumVisitLength: 1, heartbeatDelay: 1 });
  sp.trackPageView();
  lc.enableLinkClickTracking();
  sp.trackStructEvent({ category: 'checkout', action: 'start', label: 'basket', value: 42.5 });
  sp.trackSelfDescribingEvent({
    event: { schema: 'iglu:com.snowplowanalytics.snowplow/site_search/jsonschema/1-0-0', data: { terms: ['furrow', 'snowplow'], filters: {}, totalResults: 2, pageResults: 2 } },
    context: [{ schema: 'iglu:com.snowplowanalytics.snowplow/geolocation_context/jsonschema/1-0-0', data: { latitude: 51.5, longitude: -0.12 } }],
  });
  window.furrowReady = true;
</script></body></html>`;
}

/** Serves the tracker page and the tracker scripts on a loopback port. */
export async function startSite(
  collector: string,
  method: 'post' | 'get',
): Promise<{ url: string; close(): Promise<void> }> {
  const root = process.cwd();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const script = SCRIPTS[path];
    if (script !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/javascript' }).end(readFileSync(join(root, script)));
    } else if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'Content-Type': 'text/html' }).end(trackerPage(collector, method));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://localhost:${port}/`, close: () => new Promise((r) => server.close(() => r())) };
}
