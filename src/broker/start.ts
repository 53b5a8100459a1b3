import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brokerConfig, parseListener, type BrokerConfig } from '../config.js';
import { defaultIo } from '../io/select.js';
import type { Io } from '../io/types.js';
import { createLogger, type Logger } from '../logger.js';
import { LogManager } from '../storage/log-manager.js';
import { Broker } from './broker.js';
import type { MetricsServer } from './metrics.js';

export interface StartBrokerOptions {
  /** Port to listen on; 0 picks a free one. Overrides `listeners`. */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). Overrides `listeners`. */
  host?: string;
  /** Data directory. Without one the broker uses a temporary directory it removes on close. */
  dataDir?: string;
  /** Kafka broker settings by their server.properties names. */
  config?: Record<string, string | number | boolean> | BrokerConfig;
  io?: Io;
  logger?: Logger;
  /** Serve Prometheus metrics at http://<listen host>:<port>/metrics (0 picks a free port). Off when absent. */
  metricsPort?: number;
}

export interface RunningBroker {
  readonly host: string;
  readonly port: number;
  /** `host:port`, ready for a client's bootstrap servers. */
  readonly bootstrap: string;
  readonly dataDir: string;
  readonly broker: Broker;
  /** The bound metrics port, or undefined when metrics are off. */
  readonly metricsPort: number | undefined;
  close(): Promise<void>;
}

/** Starts a broker; resolves once it accepts connections. `close()` shuts it down cleanly. */
export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-'));
  const config = brokerConfig({ ...(options.config as Record<string, string | number | boolean>), 'log.dirs': dataDir });
  const listener = parseListener(config.listeners);
  const host = options.host ?? (options.port !== undefined && !options.config?.listeners ? '127.0.0.1' : listener.host);
  const port = options.port ?? listener.port;
  const logger = options.logger ?? createLogger();
  const io = options.io ?? defaultIo();

  const logs = await LogManager.open({ dataDir, config, io });
  const broker = new Broker(config, logs, io, logger);
  let bound: { host: string; port: number };
  try {
    // Committed offsets and groups are replayed before any client can ask for them.
    await broker.groups.start();
    bound = await broker.listen(host, port);
  } catch (err) {
    await broker.groups.close();
    await logs.close();
    if (temporary) fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let metrics: MetricsServer | undefined;
  if (options.metricsPort !== undefined) {
    try {
      // Loaded only when asked for, so a broker without metrics does not load prom-client.
      const { startMetricsServer } = await import('./metrics.js');
      metrics = await startMetricsServer(broker, { host: bound.host, port: options.metricsPort, log: logger });
    } catch (err) {
      await broker.close();
      if (temporary) fs.rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
  }
  logger.info({ host: bound.host, port: bound.port, dataDir, io: io.kind, clusterId: logs.clusterId, metricsPort: metrics?.port }, 'broker started');

  let closed: Promise<void> | undefined;
  return {
    host: bound.host,
    port: bound.port,
    bootstrap: `${bound.host}:${bound.port}`,
    dataDir,
    broker,
    metricsPort: metrics?.port,
    close() {
      closed ??= Promise.resolve(metrics?.close()).then(() => broker.close()).then(() => {
        logger.info({ dataDir }, 'broker stopped');
        if (temporary) fs.rmSync(dataDir, { recursive: true, force: true });
      });
      return closed;
    },
  };
}
