import fs from 'node:fs';
import {
  BROKER_CONFIG_DEFS,
  ConfigError,
  parseProperties,
  resolveBrokerConfig,
  type BrokerConfigKey,
  type ConfigSource,
  type ResolvedConfig,
} from '../config.js';

export interface BrokerFlags {
  config?: string;
  override?: string[];
  port?: string;
  host?: string;
  'data-dir'?: string;
  fsync?: string;
}

/**
 * Variables of Kafka's start scripts and container images that share the KAFKA_ prefix but are not
 * settings (kafka-run-class.sh, the apache/kafka image); a shell that has them set must still start.
 */
const KAFKA_SCRIPT_VARIABLES: ReadonlySet<string> = new Set([
  'KAFKA_HOME',
  'KAFKA_VERSION',
  'KAFKA_OPTS',
  'KAFKA_HEAP_OPTS',
  'KAFKA_JVM_PERFORMANCE_OPTS',
  'KAFKA_GC_LOG_OPTS',
  'KAFKA_LOG4J_OPTS',
  'KAFKA_LOG4J_ROOT_LOGLEVEL',
  'KAFKA_LOG4J_LOGGERS',
  'KAFKA_TOOLS_LOG4J_LOGLEVEL',
  'KAFKA_JMX_OPTS',
  'KAFKA_JMX_HOSTNAME',
  'KAFKA_JMX_PORT',
  'KAFKA_DEBUG',
  'KAFKA_CLUSTER_ID',
]);

/** `KAFKA_LOG_RETENTION_MS=...` sets `log.retention.ms`, the convention of Kafka's container images. */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, setting] of Object.entries(envSettings(env))) out[setting] = env[name]!;
  return out;
}

/** Environment variable name → the setting it names. */
function envSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('KAFKA_') || value === undefined || KAFKA_SCRIPT_VARIABLES.has(name)) continue;
    out[name] = name.slice('KAFKA_'.length).toLowerCase().replaceAll('_', '.');
  }
  return out;
}

/** One bad setting: its key as written, why it is refused, and where it was written. */
export interface ConfigProblem {
  key: string;
  reason: string;
  /** e.g. `env KAFKA_LOG_RETENTION_MS`, `file ./server.properties`, `flag --override`. */
  origin: string;
}

/** Every bad setting found, so one start reports them all. Exit code 2. */
export class BrokerConfigErrors extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map((p) => `config ${p.key} (${p.origin}): ${p.reason}`).join('\n'));
    this.name = 'BrokerConfigErrors';
  }
}

export interface CliResolvedConfig extends ResolvedConfig {
  /** Where each effective value was written: `default`, `file PATH`, `env NAME`, `flag --NAME`. */
  origins: Record<BrokerConfigKey, string>;
}

interface Layer {
  source: ConfigSource;
  /** Raw key → value and where it was written. */
  entries: { key: string; value: string; origin: string }[];
}

/**
 * The broker's settings, by precedence: Kafka's defaults < `--config server.properties` < `KAFKA_*`
 * environment variables < flags (`--override key=value`, `--port`, `--host`, `--data-dir`, `--fsync`).
 * Every unknown key and bad value is reported at once (BrokerConfigErrors), each with its origin.
 */
export function resolveCliConfig(flags: BrokerFlags, env: NodeJS.ProcessEnv = process.env): CliResolvedConfig {
  const layers: Layer[] = [];
  const problems: ConfigProblem[] = [];
  if (flags.config) {
    let text: string;
    try {
      text = fs.readFileSync(flags.config, 'utf8');
    } catch (err) {
      throw new ConfigError('--config', `cannot read ${flags.config}: ${(err as Error).message}`);
    }
    const origin = `file ${flags.config}`;
    const entries: Layer['entries'] = [];
    for (const [lineNumber, line] of text.split(/\r?\n/).entries()) {
      try {
        for (const [key, value] of Object.entries(parseProperties(line))) entries.push({ key, value, origin });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push({ key: line.trim(), reason: `line ${lineNumber + 1} is not key=value`, origin });
      }
    }
    layers.push({ source: 'file', entries });
  }
  const fromEnv = envSettings(env);
  layers.push({ source: 'env', entries: Object.entries(fromEnv).map(([name, key]) => ({ key, value: env[name]!, origin: `env ${name}` })) });

  const fromFlags: Layer['entries'] = [];
  for (const item of flags.override ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      problems.push({ key: item, reason: 'expected key=value', origin: 'flag --override' });
      continue;
    }
    fromFlags.push({ key: item.slice(0, eq).trim(), value: item.slice(eq + 1).trim(), origin: 'flag --override' });
  }
  if (flags['data-dir']) fromFlags.push({ key: 'log.dirs', value: flags['data-dir'], origin: 'flag --data-dir' });
  if (flags.fsync !== undefined) {
    if (flags.fsync !== 'always' && flags.fsync !== 'never') problems.push({ key: '--fsync', reason: `takes always or never, got "${flags.fsync}"`, origin: 'flag --fsync' });
    else fromFlags.push({ key: 'log.flush.interval.messages', value: flags.fsync === 'always' ? '1' : String(Number.MAX_SAFE_INTEGER), origin: 'flag --fsync' });
  }
  layers.push({ source: 'flag', entries: fromFlags });

  // Each setting on its own, so one bad key does not hide the next; also learns which key an alias sets.
  const origins = Object.fromEntries(BROKER_CONFIG_DEFS.map((d) => [d.name, 'default'])) as Record<BrokerConfigKey, string>;
  for (const layer of layers) {
    for (const entry of layer.entries) {
      try {
        const single = resolveBrokerConfig([{ source: layer.source, values: { [entry.key]: entry.value } }]);
        const target = (Object.keys(single.sources) as BrokerConfigKey[]).find((k) => single.sources[k] !== 'default');
        if (target) origins[target] = entry.origin;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push({ key: entry.key, reason: reasonOf(err), origin: entry.origin });
      }
    }
  }

  let port: string | undefined;
  if (flags.port !== undefined) {
    port = flags.port;
    if (!/^\d+$/.test(port) || Number(port) > 65535) problems.push({ key: '--port', reason: `"${port}" is not a port number`, origin: 'flag --port' });
  }
  if (problems.length > 0) {
    // In precedence order: the file, then the environment, then flags.
    const rank = (p: ConfigProblem) => ['file', 'env', 'flag'].indexOf(p.origin.split(' ')[0]!);
    const sorted = [...problems].sort((a, b) => rank(a) - rank(b));
    throw new BrokerConfigErrors(sorted.map((p) => (p.reason.startsWith('unknown setting') ? { ...p, reason: withSuggestion(p.key, p.reason) } : p)));
  }

  const resolved = resolveBrokerConfig(layers.map((l) => ({ source: l.source, values: Object.fromEntries(l.entries.map((e) => [e.key, e.value])) })));
  if (flags.port !== undefined || flags.host !== undefined) {
    const current = /^(?:[A-Za-z_]+:\/\/)?(.*):(\d+)$/.exec(resolved.config.listeners.split(',')[0]!.trim());
    const host = flags.host ?? current?.[1] ?? '127.0.0.1';
    resolved.config.listeners = `PLAINTEXT://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port ?? current?.[2] ?? '9092'}`;
    resolved.sources.listeners = 'flag';
    origins.listeners = `flag ${[flags.host !== undefined ? '--host' : '', flags.port !== undefined ? '--port' : ''].filter(Boolean).join(' ')}`;
  }
  return { ...resolved, origins };
}

function reasonOf(err: ConfigError): string {
  const prefix = `config ${err.key}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/** "unknown setting; did you mean log.retention.ms?" when a known key is a typo away. */
function withSuggestion(key: string, reason: string): string {
  let best: { name: string; distance: number } | undefined;
  for (const def of BROKER_CONFIG_DEFS) {
    const distance = editDistance(key, def.name);
    if (!best || distance < best.distance) best = { name: def.name, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(key.length / 6)) ? `${reason}; did you mean ${best.name}?` : reason;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
