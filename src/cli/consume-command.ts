import { parseArgs } from 'node:util';
import { ErrorCode } from '../protocol/index.js';
import type { DecodedRecord } from '../storage/record-codec.js';
import { BOOTSTRAP_HELP, BrokerError, withClient, type ClusterClient } from './cluster-client.js';
import { EXIT_CODES_HELP, EXIT_FAILURE, EXIT_OK, OutputClosed, StdoutWriter, UsageError, expectPositionals, intFlag, parseUsage, runCommand } from './command.js';
import { GroupMember, commitOffsets, fetchCommittedOffsets, type PartitionOffset } from './group-client.js';
import { TopicReader, type OffsetReset, type PartitionRecords } from './topic-reader.js';

const HELP = `usage: penstock consume TOPIC [options]

Prints the records of TOPIC, one per line (Kafka's kafka-console-consumer.sh). Without --group it
reads every partition directly (ListOffsets, then Fetch) and commits nothing.

where to start and when to stop:
  --from-beginning              start at the log start offset, when there is no committed offset
                                (default: at the end, printing only records produced from now on)
  --partition N                 read partition N only
  --offset earliest|latest|N    with --partition: start here, whatever was committed
  --max N                       stop after N records (also --max-messages, Kafka's spelling)
  --timeout-ms MS               stop once no record has arrived for MS milliseconds
                                (default: run until interrupted; Ctrl-C stops cleanly)

consumer groups:
  --group G                     consume as a member of group G with Kafka's classic group protocol
                                (FindCoordinator, JoinGroup, SyncGroup, Heartbeat; range assignor): start
                                at G's committed offsets, commit what was printed every 5 s and on exit,
                                then leave the group. Other members of G share the partitions.
  --group G --partition N       no group membership: start at G's committed offset for partition N
                                (OffsetFetch) and commit with generation -1, Kafka's commit for consumers
                                outside group management; refused while G has active members.

output:
  --print-key                   print KEY SEP VALUE (a null key prints as "null")
  --key-separator SEP           the separator for --print-key (default: a tab)
  --json                        one JSON object per line: topic, partition, offset, timestamp, key, value,
                                headers (keys and values decoded as UTF-8)
${BOOTSTRAP_HELP}
  -h, --help                    this help

"Processed a total of N messages" goes to stderr at the end, as Kafka's console consumer says it.

${EXIT_CODES_HELP}`;

/** Kafka's auto.commit.interval.ms. */
const AUTO_COMMIT_INTERVAL_MS = 5_000;
/** Longest single long poll, so a stop request or a rebalance is noticed within this time. */
const POLL_MS = 500;

interface ConsumeOptions {
  topic: string;
  group: string | undefined;
  partition: number | undefined;
  offset: number | OffsetReset | undefined;
  reset: OffsetReset;
  max: number;
  timeoutMs: number;
}

export function runConsume(argv: string[]): Promise<number> {
  return runCommand('consume', async () => {
    const { values, positionals } = parseUsage(() =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          'bootstrap-server': { type: 'string' },
          'from-beginning': { type: 'boolean' },
          group: { type: 'string' },
          partition: { type: 'string' },
          offset: { type: 'string' },
          max: { type: 'string' },
          'max-messages': { type: 'string' },
          'timeout-ms': { type: 'string' },
          'print-key': { type: 'boolean' },
          'key-separator': { type: 'string' },
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
    if (values.group === '') throw new UsageError('--group must not be empty');
    const partition = values.partition === undefined ? undefined : intFlag('--partition', values.partition, { max: 2_147_483_647 });
    let offset: ConsumeOptions['offset'];
    if (values.offset !== undefined) {
      if (partition === undefined) throw new UsageError('--offset needs --partition');
      offset = values.offset === 'earliest' || values.offset === 'latest' ? values.offset : intFlag('--offset', values.offset);
    }
    if (values.max !== undefined && values['max-messages'] !== undefined) throw new UsageError('give --max or --max-messages, not both');
    const maxText = values.max ?? values['max-messages'];
    const options: ConsumeOptions = {
      topic: topic!,
      group: values.group,
      partition,
      offset,
      reset: values['from-beginning'] ? 'earliest' : 'latest',
      max: maxText === undefined ? Infinity : intFlag(values.max !== undefined ? '--max' : '--max-messages', maxText, { min: 1 }),
      timeoutMs: values['timeout-ms'] === undefined ? Infinity : intFlag('--timeout-ms', values['timeout-ms'], { min: 1 }),
    };
    const printer = new RecordPrinter(values.json ? 'json' : values['print-key'] ? 'key' : 'value', values['key-separator'] ?? '\t', topic!);

    const stop = new StopSignal();
    try {
      const result = await withClient(values['bootstrap-server'], 'penstock-consume', (client) => consume(client, options, printer, stop));
      process.stderr.write(`Processed a total of ${printer.count} messages\n`);
      return result;
    } finally {
      stop.dispose();
    }
  });
}

async function consume(client: ClusterClient, options: ConsumeOptions, printer: RecordPrinter, stop: StopSignal): Promise<number> {
  const { topic } = options;
  const info = (await client.topics([topic])).get(topic)!;
  const leaders = new Map(info.partitions.map((p) => [p.partition, p.leader]));
  if (options.partition !== undefined && !leaders.has(options.partition)) {
    throw new BrokerError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${topic}-${options.partition}`, `the topic has ${leaders.size} partition${leaders.size === 1 ? '' : 's'}`);
  }
  const reader = new TopicReader(client, topic, leaders, options.reset);
  if (options.group !== undefined && options.partition === undefined) return consumeAsMember(client, options, reader, printer, stop);

  const partitions = options.partition !== undefined ? [options.partition] : [...leaders.keys()];
  const starts = new Map<number, number | OffsetReset>();
  let commit: ((offsets: PartitionOffset[]) => Promise<unknown>) | undefined;
  if (options.group !== undefined) {
    // Outside group management: committed offsets are read and written, membership is not used.
    const group = options.group;
    const coordinator = await client.connectionTo(await client.findCoordinator(group));
    const committed = await fetchCommittedOffsets(client, coordinator, group, partitions.map((partition) => ({ topic, partition })));
    for (const c of committed.values()) starts.set(c.partition, c.offset);
    commit = (offsets) => commitOffsets(client, coordinator, group, { generationId: -1, memberId: '' }, offsets);
  }
  if (options.offset !== undefined) starts.set(options.partition!, options.offset);
  await reader.assign(partitions, starts);

  const committer = new Committer(topic, reader);
  committer.reset(new Map([...starts].filter((e): e is [number, number] => typeof e[1] === 'number')));
  await readLoop(reader, options, printer, stop, {
    afterPoll: async () => {
      if (commit && committer.due()) await commit(committer.take());
    },
  });
  if (commit) await commit(committer.take());
  return EXIT_OK;
}

/** Group management: join, read the assignment from committed offsets, commit as we go, leave at the end. */
async function consumeAsMember(client: ClusterClient, options: ConsumeOptions, reader: TopicReader, printer: RecordPrinter, stop: StopSignal): Promise<number> {
  const { topic } = options;
  const member = await GroupMember.create(client, { groupId: options.group!, topics: [topic] });
  const committer = new Committer(topic, reader);
  const assign = async (): Promise<void> => {
    await member.join();
    const partitions = member.partitions.filter((p) => p.topic === topic).map((p) => p.partition);
    const committed = await fetchCommittedOffsets(client, member.coordinator, member.groupId, partitions.map((partition) => ({ topic, partition })));
    const starts = new Map<number, number>([...committed.values()].map((c) => [c.partition, c.offset]));
    await reader.assign(partitions, starts);
    committer.reset(starts);
  };
  let exitCode = EXIT_OK;
  try {
    await assign();
    await readLoop(reader, options, printer, stop, {
      afterPoll: async () => {
        if (member.failure) throw member.failure;
        if (committer.due() && (await member.commit(committer.take())) === 'rejoin') committer.forget();
        if (member.rejoinNeeded) {
          // Offsets of this generation go in before its partitions may move to another member.
          await member.commit(committer.take());
          await assign();
        }
      },
    });
  } finally {
    const pending = committer.take();
    const outcome = await member.commit(pending).catch((err: Error) => err);
    if (outcome !== 'committed') {
      const why = outcome === 'rejoin' ? 'the group rebalanced first' : outcome.message;
      process.stderr.write(`penstock consume: the last offsets were not committed (${why}); the group will read those records again\n`);
      exitCode = EXIT_FAILURE;
    }
    await member.leave();
  }
  return exitCode;
}

/**
 * Polls until --max records were printed, --timeout-ms passed without a record, stdout closed, or a
 * signal asked to stop. Positions advance only over records actually printed.
 */
async function readLoop(reader: TopicReader, options: ConsumeOptions, printer: RecordPrinter, stop: StopSignal, hooks: { afterPoll(): Promise<void> }): Promise<void> {
  let lastRecordAt = Date.now();
  while (printer.count < options.max && !stop.stopped) {
    const idleLeft = options.timeoutMs - (Date.now() - lastRecordAt);
    if (idleLeft <= 0) break;
    const waitMs = Math.max(1, Math.min(POLL_MS, idleLeft));
    let polled: PartitionRecords[];
    if (reader.positions.size === 0) {
      // More members than partitions: this one waits for a rebalance.
      await stop.sleep(waitMs);
      polled = [];
    } else {
      polled = await reader.poll(waitMs);
    }
    try {
      for (const { partition, records, nextOffset } of polled) {
        const room = options.max - printer.count;
        const used = records.length <= room ? records : records.slice(0, room);
        if (used.length > 0) {
          await printer.print(partition, used);
          lastRecordAt = Date.now();
        }
        reader.positions.set(partition, used.length < records.length ? used[used.length - 1]!.offset + 1 : nextOffset);
        if (printer.count >= options.max) break;
      }
    } catch (err) {
      if (err instanceof OutputClosed) return;
      throw err;
    }
    await hooks.afterPoll();
  }
}

/** Which positions changed since the last commit, and whether the auto-commit interval has passed. */
class Committer {
  private committed = new Map<number, number>();
  private lastCommitAt = Date.now();

  constructor(
    private readonly topic: string,
    private readonly reader: TopicReader,
  ) {}

  due(): boolean {
    return Date.now() - this.lastCommitAt >= AUTO_COMMIT_INTERVAL_MS;
  }

  /** The positions to commit now (the next offset to read, as Kafka commits), marked as committed. */
  take(): PartitionOffset[] {
    this.lastCommitAt = Date.now();
    const out: PartitionOffset[] = [];
    for (const [partition, offset] of this.reader.positions) {
      if (this.committed.get(partition) === offset) continue;
      this.committed.set(partition, offset);
      out.push({ topic: this.topic, partition, offset });
    }
    return out;
  }

  /** A commit was refused: what was taken counts as not committed. */
  forget(): void {
    this.committed.clear();
  }

  /**
   * A new assignment, with the offsets the group had committed. Partitions that started from the
   * reset policy are committed at the first commit, as Kafka's consumer does, so lag shows for them.
   */
  reset(committed: ReadonlyMap<number, number>): void {
    this.committed = new Map(committed);
  }
}

/** Formats records for stdout: values, KEY SEP VALUE, or JSON lines; one write per partition's records. */
class RecordPrinter {
  count = 0;
  private readonly out = new StdoutWriter();
  private readonly separator: Buffer;
  private static readonly NEWLINE = Buffer.from('\n');
  private static readonly NULL = Buffer.from('null');

  constructor(
    private readonly mode: 'value' | 'key' | 'json',
    separator: string,
    private readonly topic: string,
  ) {
    this.separator = Buffer.from(separator);
  }

  async print(partition: number, records: readonly DecodedRecord[]): Promise<void> {
    const parts: Buffer[] = [];
    for (const r of records) {
      if (this.mode === 'json') {
        const line = JSON.stringify({
          topic: this.topic,
          partition,
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key === null ? null : r.key.toString('utf8'),
          value: r.value === null ? null : r.value.toString('utf8'),
          headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('utf8') })),
        });
        parts.push(Buffer.from(line), RecordPrinter.NEWLINE);
      } else {
        if (this.mode === 'key') parts.push(r.key ?? RecordPrinter.NULL, this.separator);
        parts.push(r.value ?? RecordPrinter.NULL, RecordPrinter.NEWLINE);
      }
    }
    await this.out.write(Buffer.concat(parts));
    this.count += records.length;
  }
}

/** SIGINT/SIGTERM ask the loop to stop after the current poll (offsets committed, group left); a second one exits at once. */
class StopSignal {
  stopped = false;
  private wake: (() => void) | null = null;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.stopped) process.exit(signal === 'SIGINT' ? 130 : 143);
    this.stopped = true;
    this.wake?.();
  };

  constructor() {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

