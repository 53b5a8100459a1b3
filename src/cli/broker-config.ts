import fs from 'node:fs';
import { ConfigError, parseProperties, resolveBrokerConfig, type ConfigSource, type ResolvedConfig } from '../config.js';

export interface BrokerFlags {
  config?: string;
  override?: string[];
  port?: string;
  host?: string;
  'data-dir'?: string;
  fsync?: string;
}

/** `KAFKA_LOG_RETENTION_MS=...` sets `log.retention.ms`, the convention of Kafka's container images. */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('KAFKA_') || value === undefined) continue;
    out[name.slice('KAFKA_'.length).toLowerCase().replaceAll('_', '.')] = value;
  }
  return out;
}

/**
 * The broker's settings, by precedence: Kafka's defaults < `--config server.properties` < `KAFKA_*`
 * environment variables < flags (`--override key=value`, `--port`, `--host`, `--data-dir`, `--fsync`).
 */
export function resolveCliConfig(flags: BrokerFlags, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const layers: { source: ConfigSource; values: Record<string, string> }[] = [];
  if (flags.config) {
    let text: string;
    try {
      text = fs.readFileSync(flags.config, 'utf8');
    } catch (err) {
      throw new ConfigError('--config', `cannot read ${flags.config}: ${(err as Error).message}`);
    }
    layers.push({ source: 'file', values: parseProperties(text) });
  }
  layers.push({ source: 'env', values: configFromEnv(env) });

  const fromFlags: Record<string, string> = {};
  for (const item of flags.override ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(item, '--override takes key=value');
    fromFlags[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  if (flags['data-dir']) fromFlags['log.dirs'] = flags['data-dir'];
  if (flags.fsync !== undefined) {
    if (flags.fsync !== 'always' && flags.fsync !== 'never') throw new ConfigError('--fsync', 'takes always or never');
    fromFlags['log.flush.interval.messages'] = flags.fsync === 'always' ? '1' : String(Number.MAX_SAFE_INTEGER);
  }
  layers.push({ source: 'flag', values: fromFlags });

  const resolved = resolveBrokerConfig(layers);
  if (flags.port !== undefined || flags.host !== undefined) {
    const current = /^(?:[A-Za-z_]+:\/\/)?(.*):(\d+)$/.exec(resolved.config.listeners.split(',')[0]!.trim());
    const host = flags.host ?? current?.[1] ?? '127.0.0.1';
    const port = flags.port ?? current?.[2] ?? '9092';
    if (!/^\d+$/.test(port) || Number(port) > 65535) throw new ConfigError('--port', `"${port}" is not a port number`);
    resolved.config.listeners = `PLAINTEXT://${host}:${port}`;
    resolved.sources.listeners = 'flag';
  }
  return resolved;
}
