import { parseArgs } from 'node:util';
import { ConfigError } from '../config.js';
import { startBroker } from '../broker/start.js';
import { createLogger } from '../logger.js';
import { resolveCliConfig } from './broker-config.js';

const HELP = `usage: penstock broker [options]

Runs a Kafka-compatible broker.

options:
  --port N               listen port (default 9092)
  --host H               listen address (default 127.0.0.1)
  --data-dir DIR         data directory (default ./penstock-data)
  --config FILE          a Kafka server.properties file
  --override key=value   set any broker setting by its Kafka name (repeatable)
  --fsync always|never   acknowledge only after fdatasync (always), or from the page cache (never, default)
  --log-level LEVEL      trace, debug, info (default), warn, error, silent
  --print-config         print the effective settings and where each came from, then exit

Environment: KAFKA_<KEY> (e.g. KAFKA_LOG_RETENTION_MS) sets a setting; PENSTOCK_IO=native|fallback|auto
chooses the I/O backend. Precedence: defaults < --config < KAFKA_* < flags.`;

export async function runBroker(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      config: { type: 'string' },
      override: { type: 'string', multiple: true },
      fsync: { type: 'string' },
      'log-level': { type: 'string' },
      'print-config': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let resolved;
  try {
    resolved = resolveCliConfig(values);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`penstock broker: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (values['print-config']) {
    for (const [key, value] of Object.entries(resolved.config)) {
      console.log(`${key}=${value}  # ${resolved.sources[key as keyof typeof resolved.sources]}`);
    }
    return 0;
  }

  const logger = createLogger(values['log-level'] ?? process.env.PENSTOCK_LOG_LEVEL ?? 'info');
  const running = await startBroker({ config: resolved.config, dataDir: resolved.config['log.dirs'], logger });
  logger.info({ bootstrap: `${running.broker.advertisedHost}:${running.broker.advertisedPort}` }, 'ready');

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  await running.close();
  return 0;
}
