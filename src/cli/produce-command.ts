import { parseArgs } from 'node:util';
import type { KafkaConnection } from '../client/kafka-connection.js';
import { ApiKey, ErrorCode } from '../protocol/index.js';
import { encodeRecordBatch, type Compression, type RecordInput } from '../storage/record-codec.js';
import { BOOTSTRAP_HELP, BrokerError, withClient, type ClusterClient } from './cluster-client.js';
import { EXIT_CODES_HELP, EXIT_OK, UsageError, expectPositionals, intFlag, parseUsage, printJson, runCommand } from './command.js';
import { partitionForKey } from './partitioner.js';

const HELP = `usage: penstock produce TOPIC [options] < lines

Produces one record per line of stdin to TOPIC (Kafka's kafka-console-producer.sh). Whatever arrives
on stdin together goes out together: one record batch per partition per request, several requests in
flight, so piping a file is fast and typing a line sends it at once.

options:
${BOOTSTRAP_HELP}
  --key-separator SEP           each line is KEY SEP VALUE, split at the first SEP (the console producer's
                                parse.key=true and key.separator); a line without SEP is an error
  --partition N                 send every record to partition N (default: a keyed record goes where
                                Kafka's producer puts it, murmur2(key) % partitions; unkeyed records fill
                                one partition per batch, taking the partitions in turn)
  --acks -1|0|1                 -1 (default): answer once the broker has appended the batch; 1: the same on
                                one broker; 0: no answer is asked for
  --compression TYPE            none (default), gzip, snappy, lz4 or zstd
  --batch-bytes N               the largest record batch to build (default 1000000; the broker refuses
                                batches above max.message.bytes)
  --json                        print a summary as one JSON document on stdout
  -h, --help                    this help

A topic that does not exist is created when the broker's auto.create.topics.enable allows it.
A summary ("Produced N records ...") goes to stderr.

${EXIT_CODES_HELP}`;

const COMPRESSIONS: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
/** Kafka's max.in.flight.requests.per.connection. */
const MAX_IN_FLIGHT = 5;

interface ProduceOptions {
  keySeparator: Buffer | null;
  partition: number | undefined;
  acks: number;
  compression: Compression;
  batchBytes: number;
}

export function runProduce(argv: string[]): Promise<number> {
  return runCommand('produce', async () => {
    const { values, positionals } = parseUsage(() =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          'bootstrap-server': { type: 'string' },
          'key-separator': { type: 'string' },
          partition: { type: 'string' },
          acks: { type: 'string' },
          compression: { type: 'string' },
          'batch-bytes': { type: 'string' },
          json: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      }),
    );
    if (values.help) {
      console.log(HELP);
      return EXIT_OK;
    }
    const [topic] = expectPositionals(positionals, ['TOPIC']);
    if (values['key-separator'] === '') throw new UsageError('--key-separator must not be empty');
    const acks = values.acks === undefined ? -1 : intFlag('--acks', values.acks, { min: -1, max: 1 });
    const compression = (values.compression ?? 'none') as Compression;
    if (!COMPRESSIONS.includes(compression)) throw new UsageError(`--compression takes ${COMPRESSIONS.join(', ')}; got "${values.compression}"`);
    const options: ProduceOptions = {
      keySeparator: values['key-separator'] === undefined ? null : Buffer.from(values['key-separator']),
      partition: values.partition === undefined ? undefined : intFlag('--partition', values.partition, { max: 2_147_483_647 }),
      acks,
      compression,
      batchBytes: values['batch-bytes'] === undefined ? 1_000_000 : intFlag('--batch-bytes', values['batch-bytes'], { min: 1 }),
    };

    const summary = await withClient(values['bootstrap-server'], 'penstock-produce', (client) => produce(client, topic!, options));
    if (values.json) printJson(summary);
    const verb = options.acks === 0 ? 'Sent' : 'Produced';
    process.stderr.write(`${verb} ${summary.records} record${summary.records === 1 ? '' : 's'} to ${topic}.\n`);
    return EXIT_OK;
  });
}

interface PartitionSummary {
  partition: number;
  records: number;
  /** Offsets the broker gave the first and last record (null with acks=0: no answer). */
  firstOffset: number | null;
  lastOffset: number | null;
}

interface ProduceSummary {
  topic: string;
  records: number;
  bytes: number;
  acks: number;
  partitions: PartitionSummary[];
}

async function produce(client: ClusterClient, topic: string, options: ProduceOptions): Promise<ProduceSummary> {
  const info = (await client.topics([topic], { allowAutoTopicCreation: true })).get(topic)!;
  const partitionCount = info.partitions.length;
  if (options.partition !== undefined && options.partition >= partitionCount) {
    throw new BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${topic}-${options.partition}`, `the topic has ${partitionCount} partition${partitionCount === 1 ? '' : 's'}`);
  }
  const leaders = new Map(info.partitions.map((p) => [p.partition, p.leader]));
  const sender = new BatchSender(client, topic, leaders, options);
  if (process.stdin.isTTY) process.stderr.write('Type records, one per line; end with Ctrl-D.\n');

  let lineNumber = 0;
  let sticky = Math.floor(Math.random() * partitionCount);
  let rest: Buffer | null = null;
  const addLine = (raw: Buffer, timestamp: number): void => {
    lineNumber++;
    const line = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, raw.length - 1) : raw;
    let key: Buffer | null = null;
    let value = line;
    if (options.keySeparator) {
      const at = line.indexOf(options.keySeparator);
      if (at < 0) throw new LineError(`line ${lineNumber} has no key separator "${options.keySeparator.toString()}"`);
      key = line.subarray(0, at);
      value = line.subarray(at + options.keySeparator.length);
    }
    const partition = options.partition ?? (key ? partitionForKey(key, partitionCount) : sticky);
    sender.add(partition, { key, value, timestamp }, (key?.length ?? 0) + value.length);
  };

  try {
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      const data: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
      const timestamp = Date.now();
      let start = 0;
      for (let end = data.indexOf(0x0a, start); end >= 0; end = data.indexOf(0x0a, start)) {
        addLine(data.subarray(start, end), timestamp);
        start = end + 1;
      }
      rest = start < data.length ? Buffer.from(data.subarray(start)) : null;
      await sender.flush();
      sticky = (sticky + 1) % partitionCount;
    }
    if (rest) addLine(rest, Date.now());
  } catch (err) {
    if (!(err instanceof LineError)) throw err;
    // The lines before the bad one still go out, as with Kafka's console producer.
    await sender.flush();
    await sender.finish();
    throw new Error(`${err.message}; the ${sender.recordsSent} record${sender.recordsSent === 1 ? '' : 's'} before it ${options.acks === 0 ? 'were sent' : 'were produced'}`);
  }
  await sender.flush();
  await sender.finish();
  return sender.summary();
}

/** A line of input that cannot be a record. */
class LineError extends Error {}

/**
 * Collects records per partition into batches of at most `batchBytes`, and sends them with up to
 * MAX_IN_FLIGHT requests outstanding. A request carries at most one batch per partition, as Kafka
 * requires of Produce v3+; requests on one connection are appended in the order they were sent.
 */
class BatchSender {
  private readonly open = new Map<number, { records: RecordInput[]; bytes: number }>();
  private readonly sealed = new Map<number, { batch: Buffer; records: number }[]>();
  private readonly inFlight: Promise<void>[] = [];
  private readonly stats = new Map<number, PartitionSummary>();
  private failure: Error | null = null;
  private bytes = 0;
  recordsSent = 0;

  constructor(
    private readonly client: ClusterClient,
    private readonly topic: string,
    private readonly leaders: ReadonlyMap<number, number>,
    private readonly options: ProduceOptions,
  ) {}

  add(partition: number, record: RecordInput, size: number): void {
    // Record overhead (lengths, deltas, attributes) is a handful of varint bytes.
    const cost = size + 16;
    let open = this.open.get(partition);
    if (open && open.bytes + cost > this.options.batchBytes) {
      this.seal(partition);
      open = undefined;
    }
    if (!open) {
      open = { records: [], bytes: 0 };
      this.open.set(partition, open);
    }
    open.records.push(record);
    open.bytes += cost;
  }

  private seal(partition: number): void {
    const open = this.open.get(partition);
    if (!open || open.records.length === 0) return;
    this.open.delete(partition);
    const batch = encodeRecordBatch(open.records, { compression: this.options.compression });
    this.sealed.set(partition, [...(this.sealed.get(partition) ?? []), { batch, records: open.records.length }]);
  }

  /** Seals every open batch and sends everything sealed, waiting only while too many requests are out. */
  async flush(): Promise<void> {
    for (const partition of [...this.open.keys()]) this.seal(partition);
    while (this.sealed.size > 0) {
      // One batch per partition per request, grouped by leader.
      const round = new Map<number, { partition: number; batch: Buffer; records: number }[]>();
      for (const [partition, queue] of this.sealed) {
        const next = queue.shift()!;
        if (queue.length === 0) this.sealed.delete(partition);
        const leader = this.leaders.get(partition)!;
        round.set(leader, [...(round.get(leader) ?? []), { partition, ...next }]);
      }
      for (const [leader, batches] of round) {
        if (this.failure) throw this.failure;
        while (this.inFlight.length >= MAX_IN_FLIGHT) await this.inFlight.shift();
        const connection = await this.client.connectionTo(leader);
        this.inFlight.push(this.send(connection, batches).catch((err: Error) => void (this.failure ??= err)));
      }
    }
    if (this.failure) throw this.failure;
  }

  private async send(connection: KafkaConnection, batches: { partition: number; batch: Buffer; records: number }[]): Promise<void> {
    const request = {
      transactionalId: null,
      acks: this.options.acks,
      timeoutMs: this.client.requestTimeoutMs,
      topicData: [{ name: this.topic, partitionData: batches.map((b) => ({ index: b.partition, records: b.batch })) }],
    };
    for (const b of batches) this.bytes += b.batch.length;
    if (this.options.acks === 0) {
      this.client.send(connection, ApiKey.Produce, request);
      for (const b of batches) this.count(b.partition, b.records, null);
      return;
    }
    const response = await this.client.call(connection, ApiKey.Produce, request);
    for (const p of response.responses.flatMap((t) => t.partitionResponses)) {
      if (p.errorCode !== ErrorCode.NONE) throw new BrokerError(p.errorCode, `producing to ${this.topic}-${p.index}`);
      const sent = batches.find((b) => b.partition === p.index)!;
      this.count(p.index, sent.records, p.baseOffset);
    }
  }

  private count(partition: number, records: number, baseOffset: number | null): void {
    const stats = this.stats.get(partition) ?? { partition, records: 0, firstOffset: null, lastOffset: null };
    stats.records += records;
    if (baseOffset !== null) {
      stats.firstOffset ??= baseOffset;
      stats.lastOffset = baseOffset + records - 1;
    }
    this.stats.set(partition, stats);
    this.recordsSent += records;
  }

  /** Waits for every answer. With acks=0 there are none, so a Metadata round trip confirms the broker read it all. */
  async finish(): Promise<void> {
    await Promise.all(this.inFlight.splice(0));
    if (this.failure) throw this.failure;
    if (this.options.acks === 0) {
      for (const leader of new Set(this.leaders.values())) {
        await this.client.call(await this.client.connectionTo(leader), ApiKey.Metadata, { topics: [], allowAutoTopicCreation: false });
      }
    }
  }

  summary(): ProduceSummary {
    return {
      topic: this.topic,
      records: this.recordsSent,
      bytes: this.bytes,
      acks: this.options.acks,
      partitions: [...this.stats.values()].sort((a, b) => a.partition - b.partition),
    };
  }
}
