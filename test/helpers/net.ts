/** Whether something accepts TCP connections, for the tests and benches that need a server. */
import { createConnection } from 'node:net';

export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((done) => {
    const s = createConnection({ host, port });
    const finish = (ok: boolean) => {
      s.destroy();
      done(ok);
    };
    s.setTimeout(timeoutMs, () => finish(false));
    s.once('connect', () => finish(true));
    s.once('error', () => finish(false));
  });
}

/** `tcpOpen` for a `host:port` string (IPv6 hosts in brackets). */
export function hostPortOpen(hostPort: string, timeoutMs = 1000): Promise<boolean> {
  const i = hostPort.lastIndexOf(':');
  return tcpOpen(hostPort.slice(0, i).replace(/^\[|\]$/g, ''), Number(hostPort.slice(i + 1)), timeoutMs);
}
