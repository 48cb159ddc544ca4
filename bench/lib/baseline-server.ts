/**
 * The baseline every collector ratio refers to (spec performance.md §3.6 item 1): a bare `node:http`
 * server answering every request with the same 43-byte transparent GIF, nothing else. Run as its own
 * process so it can be pinned like the collector: `node baseline-server.js [port]`; prints
 * `listening on http://127.0.0.1:<port>` on stderr, exits on SIGTERM.
 */
import { createServer } from 'node:http';

const GIF = Buffer.from('R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const HEADERS = { 'Content-Type': 'image/gif', 'Content-Length': String(GIF.length) };

const server = createServer((req, res) => {
  // drain a body, if any, so keep-alive connections stay usable
  req.resume();
  res.writeHead(200, HEADERS);
  res.end(GIF);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  process.stderr.write(`listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
