/**
 * Graceful shutdown as Kubernetes expects it (spec kubernetes §3.3): on SIGTERM/SIGINT readiness goes
 * false at once, the server keeps answering for `preTerminationMs` while load balancers catch up, then
 * stops accepting, and the role drains what it holds before exiting 0. A second signal exits at once.
 */
import type { Server } from 'node:http';
import type { Logger } from './logger.js';

export interface Stoppable {
  /** flip readiness to false */
  unready(): void;
  /** stop accepting, drain, release resources */
  stop(): Promise<void>;
}

export function onShutdownSignals(
  app: Stoppable,
  opts: { preTerminationMs: number; log: Logger },
): Promise<void> {
  return new Promise((resolveDone) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        opts.log.warn({ signal }, 'second signal: exiting without draining');
        process.exit(1);
      }
      stopping = true;
      app.unready();
      opts.log.info({ signal, preTerminationMs: opts.preTerminationMs }, 'shutting down: readiness is false');
      setTimeout(() => {
        app.stop().then(
          () => {
            opts.log.info('drained, exiting');
            resolveDone();
          },
          (e: unknown) => {
            opts.log.error({ err: e }, 'shutdown failed');
            process.exitCode = 1;
            resolveDone();
          },
        );
      }, opts.preTerminationMs);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

/** Stops accepting connections and waits (bounded) for in-flight requests to finish. */
export function closeServer(server: Server, timeoutMs: number): Promise<void> {
  return new Promise((resolveClosed) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolveClosed();
    }, timeoutMs);
    server.close(() => {
      clearTimeout(timer);
      resolveClosed();
    });
    server.closeIdleConnections();
  });
}
