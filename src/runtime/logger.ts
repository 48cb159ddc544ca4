/** JSON-lines logging (pino) shared by every role; the level comes from config or FURROW_LOG_LEVEL. */
import { type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; role?: string } = {}): Logger {
  return pino({
    level: opts.level ?? process.env.FURROW_LOG_LEVEL ?? 'info',
    base: { role: opts.role ?? 'furrow' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
