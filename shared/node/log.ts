import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Logs: human lines on a TTY, JSON lines otherwise or with --log-format json (CONVENTIONS.md).
 * Always to stderr, so `--json` output on stdout stays one clean document.
 */
export function createLogger(options: { name: string; format?: 'json' | 'pretty' | 'auto'; level?: string } = { name: 'tiercast' }): Logger {
  const format = options.format ?? 'auto';
  const pretty = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  const level = options.level ?? process.env.TIERCAST_LOG_LEVEL ?? 'info';
  const redact = {
    paths: ['*.accessKeyId', '*.secretAccessKey', '*.sessionToken', '*.credentials', 'credentials', '*.authorization', '*.token'],
    censor: '[redacted]',
  };
  if (pretty) {
    return pino({
      name: options.name,
      level,
      redact,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss' } },
    });
  }
  return pino({ name: options.name, level, redact, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
}
