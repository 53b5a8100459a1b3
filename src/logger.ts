import { pino, type Logger } from 'pino';

export type { Logger };

/** The process-wide structured logger. Level from PENSTOCK_LOG_LEVEL (default info; tests default to silent). */
export function createLogger(level?: string): Logger {
  const chosen = level ?? process.env.PENSTOCK_LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info');
  return pino({ name: 'penstock', level: chosen });
}

export const log: Logger = createLogger();
