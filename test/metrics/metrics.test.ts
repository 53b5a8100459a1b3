import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/start.js';
import { ApiKey } from '../../src/protocol/index.js';
import { batchOf, connect, createTopic, fetchRequest, produceRequest, useBroker } from '../helpers/broker.js';
import { find, parsePrometheusText, value, type Exposition } from './prometheus-text.js';

function get(port: number, path = '/metrics', method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrape(port: number): Promise<Exposition> {
  const res = await get(port);
  expect(res.status).toBe(200);
  return parsePrometheusText(res.body);
}

describe('Prometheus metrics', () => {
  const broker = useBroker({ metricsPort: 0 });

  it('reports the bound port and serves the text format at /metrics only', async () => {
    const port = broker().metricsPort!;
    expect(port).toBeGreaterThan(0);
    expect(broker().broker.metrics).toBeDefined();
    const res = await get(port);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect((await get(port, '/')).status).toBe(404);
    expect((await get(port, '/metrics', 'POST')).status).toBe(405);
    const head = await get(port, '/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('counts records and bytes per topic, requests per API, and reads log and group state', async () => {
    const port = broker().metricsPort!;
    const c = await connect(broker(), 'metrics-test');
    await createTopic(c, 'metered', 2);
    const before = await scrape(port);
    const sentBefore = {
      zeroCopy: value(before, 'penstock_network_sent_bytes_total', { path: 'zero_copy' }),
      copied: value(before, 'penstock_network_sent_bytes_total', { path: 'copied' }),
    };

    const first = batchOf(['a', 'b', 'c']);
    const second = batchOf(['d', 'e']);
    for (const [partition, batch] of [[0, first], [1, second]] as const) {
      const res = await c.request(ApiKey.Produce, 7, produceRequest('metered', partition, batch));
      expect(res.responses[0].partitionResponses[0].errorCode).toBe(0);
    }
    const fetched = await c.request(ApiKey.Fetch, 11, fetchRequest('metered', 0, 0));
    const fetchedBytes = (fetched.responses[0].partitions[0].records as Buffer).length;
    expect(fetchedBytes).toBe(first.length);
    const commit = await c.request(ApiKey.OffsetCommit, 7, {
      groupId: 'metered-group',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [{ name: 'metered', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
    expect(commit.topics[0].partitions[0].errorCode).toBe(0);

    const m = await scrape(port);
    // Per topic, from the broker's hooks.
    expect(value(m, 'penstock_topic_records_in_total', { topic: 'metered' })).toBe(5);
    expect(value(m, 'penstock_topic_bytes_in_total', { topic: 'metered' })).toBe(first.length + second.length);
    expect(value(m, 'penstock_topic_bytes_out_total', { topic: 'metered' })).toBe(fetchedBytes);

    // Per API, under Kafka's API names.
    expect(value(m, 'penstock_requests_total', { api: 'Produce', version: '7' })).toBe(2);
    expect(value(m, 'penstock_requests_total', { api: 'Fetch', version: '11' })).toBe(1);
    expect(value(m, 'penstock_request_duration_seconds_count', { api: 'Produce' })).toBe(2);
    expect(value(m, 'penstock_request_duration_seconds_bucket', { api: 'Produce', le: '+Inf' })).toBe(2);
    expect(value(m, 'penstock_request_duration_seconds_sum', { api: 'Produce' })).toBeGreaterThan(0);
    const buckets = find(m, 'penstock_request_duration_seconds_bucket', { api: 'Fetch' }).map((s) => s.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b)); // cumulative
    expect(value(m, 'penstock_request_bytes_total', { api: 'Produce' })).toBeGreaterThan(first.length + second.length);
    expect(value(m, 'penstock_requests_total', { api: 'OffsetCommit', version: '7' })).toBe(1);

    // Send paths: record bytes go zero-copy on the native backend, through user space on the fallback.
    const zeroCopy = value(m, 'penstock_network_sent_bytes_total', { path: 'zero_copy' }) - sentBefore.zeroCopy;
    const copied = value(m, 'penstock_network_sent_bytes_total', { path: 'copied' }) - sentBefore.copied;
    if (broker().broker.io.kind === 'native') {
      expect(zeroCopy).toBe(fetchedBytes);
      expect(copied).toBeGreaterThan(0); // headers and the other responses
    } else {
      expect(zeroCopy).toBe(0);
      expect(copied).toBeGreaterThan(fetchedBytes);
    }
    expect(value(m, 'penstock_connections_active')).toBeGreaterThanOrEqual(1);
    expect(value(m, 'penstock_broker_info', { io: broker().broker.io.kind, node_id: '0' })).toBe(1);

    // Log state per partition, read when scraped.
    const p0 = broker().broker.logs.partition('metered', 0)!;
    expect(value(m, 'penstock_log_size_bytes', { topic: 'metered', partition: '0' })).toBe(p0.size);
    expect(value(m, 'penstock_log_size_bytes', { topic: 'metered', partition: '0' })).toBe(first.length);
    expect(value(m, 'penstock_log_segments', { topic: 'metered', partition: '1' })).toBe(1);
    expect(value(m, 'penstock_log_start_offset', { topic: 'metered', partition: '0' })).toBe(0);
    expect(value(m, 'penstock_log_end_offset', { topic: 'metered', partition: '0' })).toBe(3);
    expect(value(m, 'penstock_log_end_offset', { topic: 'metered', partition: '1' })).toBe(2);

    // Consumer group lag: high watermark 3, committed 1.
    expect(value(m, 'penstock_consumer_group_committed_offset', { group: 'metered-group', topic: 'metered', partition: '0' })).toBe(1);
    expect(value(m, 'penstock_consumer_group_lag', { group: 'metered-group', topic: 'metered', partition: '0' })).toBe(2);
    expect(value(m, 'penstock_consumer_group_members', { group: 'metered-group' })).toBe(0);
    expect(find(m, 'penstock_consumer_group_lag', { group: 'metered-group', partition: '1' })).toEqual([]);

    // A second fetch adds exactly its bytes to the counters.
    await c.request(ApiKey.Fetch, 11, fetchRequest('metered', 1, 0));
    const again = await scrape(port);
    expect(value(again, 'penstock_topic_bytes_out_total', { topic: 'metered' })).toBe(fetchedBytes + second.length);
    if (broker().broker.io.kind === 'native') {
      expect(value(again, 'penstock_network_sent_bytes_total', { path: 'zero_copy' }) - sentBefore.zeroCopy).toBe(fetchedBytes + second.length);
    }
  });

  it('names follow Prometheus conventions, with HELP and TYPE for every metric', async () => {
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the event loop monitor take samples
    const m = await scrape(broker().metricsPort!);
    const own = [...m.types].filter(([name]) => name.startsWith('penstock_'));
    expect(own.map(([name]) => name).sort()).toEqual(
      [
        'penstock_broker_info',
        'penstock_connections_active',
        'penstock_consumer_group_committed_offset',
        'penstock_consumer_group_lag',
        'penstock_consumer_group_members',
        'penstock_event_loop_delay_seconds',
        'penstock_log_end_offset',
        'penstock_log_segments',
        'penstock_log_size_bytes',
        'penstock_log_start_offset',
        'penstock_network_sent_bytes_total',
        'penstock_request_bytes_total',
        'penstock_request_duration_seconds',
        'penstock_requests_total',
        'penstock_topic_bytes_in_total',
        'penstock_topic_bytes_out_total',
        'penstock_topic_records_in_total',
      ].sort(),
    );
    for (const s of m.samples.filter((x) => x.name.startsWith('penstock_'))) expect(Number.isNaN(s.value), s.name).toBe(false);
    for (const [name, type] of own) {
      expect(m.help.get(name), name).toBeTruthy();
      if (type === 'counter') expect(name).toMatch(/_total$/);
      if (name.endsWith('_total')) expect(type, name).toBe('counter');
    }
    expect(m.types.get('penstock_request_duration_seconds')).toBe('histogram');
    expect(m.types.get('penstock_connections_active')).toBe('gauge');

    const delay = find(m, 'penstock_event_loop_delay_seconds');
    expect(delay.map((s) => s.labels.quantile)).toEqual(['0.5', '0.9', '0.99', '1']);
    for (const s of delay) expect(s.value).toBeGreaterThanOrEqual(0);
    expect(delay.map((s) => s.value)).toEqual([...delay.map((s) => s.value)].sort((a, b) => a - b));

    // Node.js process metrics from prom-client's defaults.
    expect(find(m, 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(find(m, 'nodejs_heap_size_used_bytes')).toHaveLength(1);
  });
});

describe('metrics of two brokers in one process', () => {
  it('each broker has its own registry and port; close() stops only its server', async () => {
    const a = await startBroker({ port: 0, metricsPort: 0 });
    const b = await startBroker({ port: 0, metricsPort: 0 });
    const plain = await startBroker({ port: 0 });
    try {
      expect(a.metricsPort).not.toBe(b.metricsPort);
      expect(plain.metricsPort).toBeUndefined();
      expect(plain.broker.metrics).toBeUndefined();

      const c = await connect(a, 'two-brokers');
      await createTopic(c, 'only-on-a', 1);
      await c.request(ApiKey.Produce, 7, produceRequest('only-on-a', 0, batchOf(['x', 'y'])));
      expect(value(await scrape(a.metricsPort!), 'penstock_topic_records_in_total', { topic: 'only-on-a' })).toBe(2);
      expect(find(await scrape(b.metricsPort!), 'penstock_topic_records_in_total', { topic: 'only-on-a' })).toEqual([]);

      const port = a.metricsPort!;
      await a.close();
      expect(a.broker.metrics).toBeUndefined();
      await expect(get(port)).rejects.toThrow(/ECONNREFUSED/);
      expect((await get(b.metricsPort!)).status).toBe(200);
    } finally {
      await Promise.all([a.close(), b.close(), plain.close()]);
    }
  });

  it('a metrics port already in use fails the start and leaves nothing behind', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as net.AddressInfo).port;
    const dataDir = fs.mkdtempSync('/tmp/penstock-metrics-');
    try {
      await expect(startBroker({ port: 0, dataDir, metricsPort: taken })).rejects.toThrow(/EADDRINUSE/);
      // The broker was closed cleanly: its data directory holds the clean-shutdown marker.
      expect(fs.existsSync(`${dataDir}/.kafka_cleanshutdown`)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
