import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { BrokerConfigErrors, configFromEnv, resolveCliConfig } from '../../src/cli/broker-config.js';
import { killSpawned, parseTable, penstock, spawnPenstock, waitFor } from './cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

/** The environment of the test process without KAFKA_* variables, plus `extra`. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KAFKA_')) out[k] = v;
  return { ...out, ...extra };
}

describe('penstock broker --print-config', () => {
  it('shows each effective value and where it came from: default, file, env, flag', async () => {
    const properties = file('server.properties', '# a comment\nlog.segment.bytes=1048576\nnum.partitions=3\nlog.retention.hours=2\nmessage.max.bytes: 2000000\n');
    const result = await penstock(['broker', '--config', properties, '--override', 'num.partitions=5', '--port', '9999', '--data-dir', '/tmp/somewhere', '--print-config'], {
      env: env({ KAFKA_LOG_RETENTION_MS: '5000', KAFKA_HEAP_OPTS: '-Xmx1G' }),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rows = new Map(parseTable(result.out).map((r) => [r.KEY, r]));
    expect(rows.get('log.segment.bytes')).toEqual({ KEY: 'log.segment.bytes', VALUE: '1048576', SOURCE: `file ${properties}` });
    expect(rows.get('message.max.bytes')).toMatchObject({ VALUE: '2000000', SOURCE: `file ${properties}` });
    // The environment beats the file (log.retention.hours=2 there), flags beat both.
    expect(rows.get('log.retention.ms')).toMatchObject({ VALUE: '5000', SOURCE: 'env KAFKA_LOG_RETENTION_MS' });
    expect(rows.get('num.partitions')).toMatchObject({ VALUE: '5', SOURCE: 'flag --override' });
    expect(rows.get('listeners')).toMatchObject({ VALUE: 'PLAINTEXT://127.0.0.1:9999', SOURCE: 'flag --port' });
    expect(rows.get('log.dirs')).toMatchObject({ VALUE: '/tmp/somewhere', SOURCE: 'flag --data-dir' });
    expect(rows.get('auto.create.topics.enable')).toMatchObject({ VALUE: 'true', SOURCE: 'default' });
    expect(rows.get('advertised.listeners')).toMatchObject({ VALUE: '""', SOURCE: 'default' });
    // Sorted by key.
    const keys = [...rows.keys()];
    expect(keys).toEqual([...keys].sort());
  });

  it('--json prints one document: key → value, source, origin', async () => {
    const properties = file('json.properties', 'log.retention.hours=1\n');
    const result = await penstock(['broker', '--config', properties, '--fsync', 'always', '--print-config', '--json'], { env: env({ KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false' }) });
    expect(result.code).toBe(0);
    const doc = JSON.parse(result.out);
    expect(doc['log.retention.ms']).toEqual({ value: 3_600_000, source: 'file', origin: properties });
    expect(doc['auto.create.topics.enable']).toEqual({ value: false, source: 'env', origin: 'KAFKA_AUTO_CREATE_TOPICS_ENABLE' });
    expect(doc['log.flush.interval.messages']).toEqual({ value: 1, source: 'flag', origin: '--fsync' });
    expect(doc['num.partitions']).toEqual({ value: 1, source: 'default', origin: null });
  });

  it('unknown keys and bad values exit 2, each named with where it was set', async () => {
    const properties = file('bad.properties', 'log.retension.ms=1000\nnum.partitions=zero\n');
    const result = await penstock(['broker', '--config', properties, '--override', 'fetch.max.bytes=12', '--print-config'], { env: env({ KAFKA_NO_SUCH_SETTING: '1' }) });
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    expect(result.stderr.split('\n').filter(Boolean)).toEqual([
      `penstock broker: config log.retension.ms (file ${properties}): unknown setting; did you mean log.retention.ms?`,
      `penstock broker: config num.partitions (file ${properties}): expected an integer, got "zero"`,
      'penstock broker: config no.such.setting (env KAFKA_NO_SUCH_SETTING): unknown setting',
      'penstock broker: config fetch.max.bytes (flag --override): 12 is below the minimum 1024',
    ]);
  });

  it('an unknown key stops the broker from starting (not only --print-config)', async () => {
    const result = await penstock(['broker', '--port', '0', '--data-dir', path.join(tmp, 'never'), '--override', 'log.segment.byte=1'], { env: env() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('config log.segment.byte (flag --override): unknown setting; did you mean log.segment.bytes?');
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  it('bad flags exit 2', async () => {
    const cases = [
      ['--frobnicate'],
      ['--json'],
      ['--metrics-port', 'abc', '--print-config'],
      ['--metrics-port', '70000', '--print-config'],
      ['--port', 'x', '--print-config'],
      ['--fsync', 'sometimes', '--print-config'],
      ['--config', path.join(tmp, 'missing.properties'), '--print-config'],
      ['--log-level', 'loud', '--port', '0', '--data-dir', path.join(tmp, 'loud')],
    ];
    for (const args of cases) {
      const result = await penstock(['broker', ...args], { env: env() });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/^penstock broker: /);
    }
  });

  it('--help lists --metrics-port, --print-config, --json and the exit codes', async () => {
    const result = await penstock(['broker', '--help']);
    expect(result.code).toBe(0);
    for (const word of ['--metrics-port', '--print-config', '--json', 'KAFKA_', 'exit codes']) expect(result.out).toContain(word);
  });
});

describe('resolveCliConfig', () => {
  it('ignores the variables of Kafka scripts and images that are not settings', () => {
    expect(configFromEnv({ KAFKA_HEAP_OPTS: '-Xmx1G', KAFKA_OPTS: '-D', KAFKA_HOME: '/opt/kafka', KAFKA_LOG_RETENTION_MS: '1', PATH: '/bin' })).toEqual({ 'log.retention.ms': '1' });
  });

  it('collects every problem instead of stopping at the first', () => {
    let error: unknown;
    try {
      resolveCliConfig({ override: ['a.b=1', 'num.partitions=-3', 'nokeyvalue'] }, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(BrokerConfigErrors);
    expect((error as BrokerConfigErrors).problems.map((p) => p.key)).toEqual(['nokeyvalue', 'a.b', 'num.partitions']);
  });

  it('--host and --port rewrite the listener, IPv6 in brackets', () => {
    expect(resolveCliConfig({ host: '::1', port: '9094' }, {}).config.listeners).toBe('PLAINTEXT://[::1]:9094');
    const resolved = resolveCliConfig({ port: '9095' }, { KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092' });
    expect(resolved.config.listeners).toBe('PLAINTEXT://0.0.0.0:9095');
    expect(resolved.origins.listeners).toBe('flag --port');
  });
});

describe('penstock broker --metrics-port', () => {
  afterEach(() => killSpawned());

  it('serves /metrics on the listen host, logs the address, and stops with the broker', async () => {
    const child = await spawnPenstock(['broker', '--port', '0', '--metrics-port', '0', '--data-dir', path.join(tmp, 'metrics-data'), '--log-level', 'info'], { timeoutMs: 60_000 });
    let ready: { metrics?: string; bootstrap?: string } | undefined;
    await waitFor('the broker to log ready', () => {
      ready = child
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l))
        .find((l) => l.msg === 'ready');
      return ready !== undefined;
    });
    expect(ready!.metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    const scrape = (url: string) =>
      new Promise<{ status: number; body: string; type: string }>((resolve, reject) => {
        http.get(url, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body, type: String(res.headers['content-type']) }));
        }).on('error', reject);
      });
    const scraped = await scrape(ready!.metrics!);
    expect(scraped.status).toBe(200);
    expect(scraped.type).toContain('text/plain');
    expect(scraped.body).toContain('# TYPE penstock_requests_total counter');
    expect(scraped.body).toMatch(/penstock_broker_info\{node_id="0",cluster_id="[^"]+",io="(native|fallback)"\} 1/);
    expect(scraped.body).toContain('process_cpu_user_seconds_total');

    child.signal('SIGTERM');
    expect((await child.exited).code).toBe(0);
    await expect(scrape(ready!.metrics!)).rejects.toThrow(/ECONNREFUSED/);
  });
});
