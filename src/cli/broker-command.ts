import { parseArgs } from 'node:util';
import { BROKER_CONFIG_DEFS, ConfigError } from '../config.js';
import { startBroker } from '../broker/start.js';
import { createLogger, log as moduleLog } from '../logger.js';
import { BrokerConfigErrors, resolveCliConfig, type CliResolvedConfig } from './broker-config.js';
import { EXIT_OK, EXIT_USAGE, UsageError, formatTable, intFlag, parseUsage } from './command.js';

const HELP = `usage: penstock broker [options]

Runs a Kafka-compatible broker.

options:
  --port N               listen port (default 9092)
  --host H               listen address (default 127.0.0.1)
  --data-dir DIR         data directory (default ./penstock-data)
  --config FILE          a Kafka server.properties file
  --override key=value   set any broker setting by its Kafka name (repeatable)
  --fsync always|never   acknowledge only after fdatasync (always), or from the page cache (never, default)
  --metrics-port N       serve Prometheus metrics at http://HOST:N/metrics, on the broker's listen
                         address (default: off; 0 picks a free port, logged at start)
  --log-level LEVEL      trace, debug, info (default), warn, error, silent
  --print-config         print the effective settings and where each came from, then exit
  --json                 with --print-config: one JSON document {key: {value, source, origin}}
  -h, --help             this help

Environment: KAFKA_<KEY> (e.g. KAFKA_LOG_RETENTION_MS) sets a setting; PENSTOCK_IO=native|fallback|auto
chooses the I/O backend. Precedence: defaults < --config < KAFKA_* < flags.

exit codes:
  0  stopped cleanly (SIGINT/SIGTERM), or --print-config printed
  1  runtime error: the port is taken, the data directory cannot be used, ...
  2  usage error: unknown flag, unknown setting or bad value (each one named, with where it was set)`;

export async function runBroker(argv: string[]): Promise<number> {
  let values;
  let resolved: CliResolvedConfig;
  let metricsPort: number | undefined;
  try {
    values = parseUsage(
      () =>
        parseArgs({
          args: argv,
          options: {
            port: { type: 'string' },
            host: { type: 'string' },
            'data-dir': { type: 'string' },
            config: { type: 'string' },
            override: { type: 'string', multiple: true },
            fsync: { type: 'string' },
            'metrics-port': { type: 'string' },
            'log-level': { type: 'string' },
            'print-config': { type: 'boolean' },
            json: { type: 'boolean' },
            help: { type: 'boolean', short: 'h' },
          },
          strict: true,
        }).values,
    );
    if (values.help) {
      console.log(HELP);
      return EXIT_OK;
    }
    if (values.json && !values['print-config']) throw new UsageError('--json goes with --print-config');
    if (values['metrics-port'] !== undefined) metricsPort = intFlag('--metrics-port', values['metrics-port'], { max: 65535 });
    resolved = resolveCliConfig(values);
  } catch (err) {
    if (err instanceof BrokerConfigErrors) {
      for (const line of err.message.split('\n')) console.error(`penstock broker: ${line}`);
      return EXIT_USAGE;
    }
    if (err instanceof ConfigError || err instanceof UsageError) {
      console.error(`penstock broker: ${err.message}\nRun 'penstock broker --help' for usage.`);
      return EXIT_USAGE;
    }
    throw err;
  }
  if (values['print-config']) {
    printConfig(resolved, values.json === true);
    return EXIT_OK;
  }

  const level = values['log-level'] ?? process.env.PENSTOCK_LOG_LEVEL ?? 'info';
  let logger;
  try {
    logger = createLogger(level);
  } catch {
    console.error(`penstock broker: --log-level takes trace, debug, info, warn, error, fatal or silent; got "${level}"`);
    return EXIT_USAGE;
  }
  // Modules that log through the process-wide logger (storage) follow --log-level too.
  moduleLog.level = level;
  const running = await startBroker({ config: resolved.config, dataDir: resolved.config['log.dirs'], logger, metricsPort });
  logger.info(
    {
      bootstrap: `${running.broker.advertisedHost}:${running.broker.advertisedPort}`,
      ...(running.metricsPort !== undefined ? { metrics: `http://${urlHost(running.host)}:${running.metricsPort}/metrics` } : {}),
    },
    'ready',
  );

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
  return EXIT_OK;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Every setting, alphabetically, with its effective value and where that value was written. */
function printConfig(resolved: CliResolvedConfig, json: boolean): void {
  const keys = BROKER_CONFIG_DEFS.map((d) => d.name).sort();
  if (json) {
    const out: Record<string, { value: unknown; source: string; origin: string | null }> = {};
    for (const key of keys) {
      const origin = resolved.origins[key];
      out[key] = { value: resolved.config[key], source: resolved.sources[key], origin: origin === 'default' ? null : origin.replace(/^\S+ /, '') };
    }
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  const rows = keys.map((key) => {
    const value = resolved.config[key];
    return [key, value === '' ? '""' : String(value), resolved.origins[key]];
  });
  console.log(formatTable(['KEY', 'VALUE', 'SOURCE'], rows));
}
