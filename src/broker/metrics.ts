/**
 * Prometheus metrics for one broker: counts the broker's metric events (requests, records in, bytes
 * out), reads its state when scraped (connections, send paths, logs, group lag, event loop delay),
 * and serves them over HTTP at /metrics. Each broker has its own Registry, so two brokers in one
 * process do not collide; the process-wide Node.js metrics live in one shared registry.
 */
import http from 'node:http';
import type net from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../logger.js';
import { apiName } from '../protocol/index.js';
import type { Broker, BrokerMetricsHooks } from './broker.js';

/** Request latency buckets: sub-millisecond produce/metadata up to long polls and rebalances. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Sampling interval of the event loop delay monitor. */
const EVENT_LOOP_RESOLUTION_MS = 10;
const EVENT_LOOP_QUANTILES = [0.5, 0.9, 0.99, 1] as const;

let processRegistry: Registry | undefined;

/** Node.js process metrics (CPU, memory, heap, GC, handles), collected once per process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** The broker's metrics: implements the broker's hooks and reads the rest of its state at scrape time. */
export class BrokerMetrics implements BrokerMetricsHooks {
  readonly registry = new Registry();
  private readonly requests: Counter<'api' | 'version'>;
  private readonly requestSeconds: Histogram<'api'>;
  private readonly requestBytes: Counter<'api'>;
  private readonly bytesIn: Counter<'topic'>;
  private readonly recordsIn: Counter<'topic'>;
  private readonly bytesOut: Counter<'topic'>;
  private readonly eventLoopDelay: IntervalHistogram;
  /** API key → Kafka's name, so the hot path does not look names up. */
  private readonly apiNames = new Map<number, string>();

  constructor(private readonly broker: Broker) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'penstock_requests_total', help: 'Requests answered, by Kafka API name and version.', labelNames: ['api', 'version'], registers });
    this.requestSeconds = new Histogram({
      name: 'penstock_request_duration_seconds',
      help: 'Time from a request being read to its response being queued (a Fetch includes its long poll), by Kafka API name.',
      labelNames: ['api'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.requestBytes = new Counter({ name: 'penstock_request_bytes_total', help: 'Bytes of request frames received, by Kafka API name.', labelNames: ['api'], registers });
    this.bytesIn = new Counter({ name: 'penstock_topic_bytes_in_total', help: 'Record batch bytes appended by Produce, per topic.', labelNames: ['topic'], registers });
    this.recordsIn = new Counter({ name: 'penstock_topic_records_in_total', help: 'Records appended by Produce, per topic.', labelNames: ['topic'], registers });
    this.bytesOut = new Counter({ name: 'penstock_topic_bytes_out_total', help: 'Record bytes handed to consumers by Fetch, per topic.', labelNames: ['topic'], registers });

    // Send path totals are the broker's own running counts; each scrape adds what is new.
    const sent = { zeroCopy: 0, copied: 0 };
    new Counter({
      name: 'penstock_network_sent_bytes_total',
      help: 'Bytes sent to clients, by path: zero_copy went file to socket inside the kernel (sendfile), copied passed through user space.',
      labelNames: ['path'],
      registers,
      collect() {
        const zeroCopy = broker.sendStats.zeroCopyBytes;
        const copied = broker.sendStats.bytesOut - zeroCopy;
        this.inc({ path: 'zero_copy' }, Math.max(0, zeroCopy - sent.zeroCopy));
        this.inc({ path: 'copied' }, Math.max(0, copied - sent.copied));
        sent.zeroCopy = Math.max(sent.zeroCopy, zeroCopy);
        sent.copied = Math.max(sent.copied, copied);
      },
    });
    new Gauge({
      name: 'penstock_connections_active',
      help: 'Client connections open now.',
      registers,
      collect() {
        this.set(broker.connectionCount);
      },
    });
    new Gauge({
      name: 'penstock_broker_info',
      help: 'Always 1; labels say which broker this is and which I/O backend it runs on.',
      labelNames: ['node_id', 'cluster_id', 'io'],
      registers,
      collect() {
        this.reset();
        this.set({ node_id: String(broker.nodeId), cluster_id: broker.clusterId, io: broker.io.kind }, 1);
      },
    });

    this.partitionGauge('penstock_log_size_bytes', 'Bytes in the segments of a partition.', (p) => p.size);
    this.partitionGauge('penstock_log_segments', 'Segments of a partition.', (p) => p.segmentCount);
    this.partitionGauge('penstock_log_start_offset', 'First offset still in a partition (log start offset).', (p) => p.logStartOffset);
    this.partitionGauge('penstock_log_end_offset', 'Offset the next record appended to a partition will get (log end offset).', (p) => p.logEndOffset);
    this.groupGauges();

    this.eventLoopDelay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
    this.eventLoopDelay.enable();
    const histogram = this.eventLoopDelay;
    new Gauge({
      name: 'penstock_event_loop_delay_seconds',
      help: `How late the event loop ran a ${EVENT_LOOP_RESOLUTION_MS} ms timer, as quantiles over the time since the previous scrape (quantile 1 is the maximum).`,
      labelNames: ['quantile'],
      registers,
      collect() {
        this.reset();
        if (histogram.count > 0) {
          for (const q of EVENT_LOOP_QUANTILES) {
            const ns = q === 1 ? histogram.max : histogram.percentile(q * 100);
            this.set({ quantile: String(q) }, Math.max(0, ns / 1e9 - EVENT_LOOP_RESOLUTION_MS / 1000));
          }
        }
        histogram.reset();
      },
    });
  }

  requestCompleted(apiKey: number, apiVersion: number, seconds: number, requestBytes: number): void {
    let api = this.apiNames.get(apiKey);
    if (api === undefined) {
      api = apiName(apiKey);
      this.apiNames.set(apiKey, api);
    }
    this.requests.inc({ api, version: apiVersion });
    this.requestSeconds.observe({ api }, seconds);
    this.requestBytes.inc({ api }, requestBytes);
  }

  produced(topic: string, records: number, bytes: number): void {
    this.recordsIn.inc({ topic }, records);
    this.bytesIn.inc({ topic }, bytes);
  }

  fetched(topic: string, bytes: number): void {
    this.bytesOut.inc({ topic }, bytes);
  }

  /** The Prometheus text exposition of this broker's metrics and the process's. */
  async render(): Promise<string> {
    const [own, process] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${process}`;
  }

  close(): void {
    this.eventLoopDelay.disable();
  }

  /** A gauge per topic-partition, read from the log manager at scrape time (deleted topics drop out). */
  private partitionGauge(name: string, help: string, read: (p: { size: number; segmentCount: number; logStartOffset: number; logEndOffset: number }) => number): void {
    const logs = this.broker.logs;
    new Gauge({
      name,
      help,
      labelNames: ['topic', 'partition'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const topic of logs.topicNames()) {
          const partitions = logs.getTopic(topic)?.partitions ?? [];
          partitions.forEach((p, i) => this.set({ topic, partition: String(i) }, read(p)));
        }
      },
    });
  }

  /**
   * Committed offsets and lag (high watermark − committed) per group and partition, members per
   * group. The three gauges share one reading of the coordinator per scrape, whichever is read first.
   */
  private groupGauges(): void {
    const broker = this.broker;
    const registers = [this.registry];
    // A registry reads every metric in one synchronous pass, so a reading is fresh until the next microtask.
    let fresh = false;
    let reading: { members: [string, number][]; offsets: { group: string; topic: string; partition: string; committed: number; lag: number | null }[] } = { members: [], offsets: [] };
    const read = (): typeof reading => {
      if (fresh) return reading;
      fresh = true;
      queueMicrotask(() => (fresh = false));
      reading = { members: [], offsets: [] };
      const listed = broker.groups.listGroups();
      if (listed.errorCode !== 0) return reading;
      for (const { groupId } of listed.groups) {
        reading.members.push([groupId, broker.groups.group(groupId)?.size ?? 0]);
        const fetched = broker.groups.fetchOffsets(groupId, null);
        if (fetched.errorCode !== 0) continue;
        for (const { topic, partitions } of fetched.topics) {
          for (const p of partitions) {
            if (p.errorCode !== 0 || p.offset < 0) continue;
            const log = broker.logs.partition(topic, p.partition);
            const lag = log ? Math.max(0, log.highWatermark - p.offset) : null;
            reading.offsets.push({ group: groupId, topic, partition: String(p.partition), committed: p.offset, lag });
          }
        }
      }
      return reading;
    };
    new Gauge({
      name: 'penstock_consumer_group_lag',
      help: "Records a consumer group has yet to read in a partition: the high watermark minus the group's committed offset.",
      labelNames: ['group', 'topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const o of read().offsets) if (o.lag !== null) this.set({ group: o.group, topic: o.topic, partition: o.partition }, o.lag);
      },
    });
    new Gauge({
      name: 'penstock_consumer_group_committed_offset',
      help: 'The offset a consumer group committed for a partition (the next record it will read).',
      labelNames: ['group', 'topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const o of read().offsets) this.set({ group: o.group, topic: o.topic, partition: o.partition }, o.committed);
      },
    });
    new Gauge({
      name: 'penstock_consumer_group_members',
      help: 'Members of a consumer group.',
      labelNames: ['group'],
      registers,
      collect() {
        this.reset();
        for (const [group, members] of read().members) this.set({ group }, members);
      },
    });
  }
}

export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  readonly metrics: BrokerMetrics;
  close(): Promise<void>;
}

/**
 * Attaches metrics to `broker` and serves them at http://host:port/metrics (port 0: a free one).
 * `close()` stops the server, drops keep-alive scrapers and detaches the metrics.
 */
export async function startMetricsServer(broker: Broker, options: { host: string; port: number; log?: Logger }): Promise<MetricsServer> {
  const log = options.log ?? broker.log;
  const metrics = new BrokerMetrics(broker);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('penstock serves Prometheus metrics at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    metrics.render().then(
      (body) => {
        res.writeHead(200, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: Error) => {
        log.error({ err: err.message, remote: req.socket.remoteAddress }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err.message}\n`);
      },
    );
  });
  server.on('error', (err) => log.error({ err: err.message }, 'metrics listener error'));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: options.host, port: options.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    metrics.close();
    throw err;
  }
  broker.metrics = metrics;
  const address = server.address() as net.AddressInfo;
  log.info({ host: address.address, port: address.port }, 'metrics listening');

  let closed: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    metrics,
    close() {
      closed ??= new Promise<void>((resolve) => {
        if (broker.metrics === metrics) broker.metrics = undefined;
        metrics.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
