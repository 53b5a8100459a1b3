/**
 * The protocol fuzzer: mutates valid requests (bit flips, byte stores, truncation, random tails,
 * length and count fields set to extremes, numbers set to extremes, the frame's size prefix, the API
 * key and version) and sends them to a live broker. Every case must end in a response that decodes or
 * a closed connection, within a bounded wait; a well-formed client on another connection must keep
 * working throughout. Deterministic from its seed.
 */
import net from 'node:net';
import { Framer } from '../../../src/broker/framer.js';
import { KafkaConnection } from '../../../src/client/kafka-connection.js';
import { ApiKey, decodeRequest, decodeResponse, encodeRequest, isSupported } from '../../../src/protocol/index.js';
import { decodeRecordBatches, encodeRecordBatch } from '../../../src/storage/record-codec.js';
import { Rng } from '../helpers/rng.js';
import { encodeTraced, seedBody, type TracedField } from './seeds.js';

export interface AdvertisedApi {
  apiKey: number;
  minVersion: number;
  maxVersion: number;
}

export interface FuzzOptions {
  host: string;
  port: number;
  seed: number;
  /** Stop after this many cases... */
  maxCases: number;
  /** ...or at this time (Date.now()), whichever comes first. */
  deadline: number;
  /** A health round trip on another connection every this many cases. */
  healthEvery: number;
  /** How long one case may go without a response or a close before it counts as a hang. */
  caseTimeoutMs: number;
  /** Whether the broker process is still running. */
  brokerAlive(): boolean;
  /** Topic the health check produces to and fetches from (exists, one partition). */
  healthTopic: string;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  answered: number;
  closed: number;
  /** Legitimately waiting (long-poll fetch, group join) when the case's wait ran out. */
  parked: number;
  /** The size prefix promised more bytes than were sent: the broker rightly waits for them. */
  incomplete: number;
  /** Produce with acks=0, which Kafka does not answer. */
  unanswered: number;
  connections: number;
  healthChecks: number;
  perApi: Record<string, number>;
  mutations: Record<string, number>;
  failures: string[];
}

type Mutation = 'bitflip' | 'byte' | 'truncate' | 'tail' | 'length' | 'count' | 'number' | 'size' | 'api' | 'splice';

const MUTATIONS: Mutation[] = ['bitflip', 'bitflip', 'byte', 'truncate', 'tail', 'length', 'length', 'count', 'count', 'number', 'number', 'size', 'api', 'splice'];

const INT32_EXTREMES = [0, -1, 0x7fffffff, -0x80000000, 1, 0x10000, 0x7ffffffe];
const INT16_EXTREMES = [0, -1, 0x7fff, -0x8000, 1, 0x100];
const VARINT_EXTREMES = [Buffer.from([0]), Buffer.from([1]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07]), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), Buffer.from([0xff])];

interface Mutated {
  frame: Buffer;
  /** The size prefix no longer says how many bytes follow. */
  framingBroken: boolean;
  applied: Mutation[];
}

function writeField(buf: Buffer, field: TracedField, rng: Rng): Buffer {
  return Buffer.from(writeFieldInPlace(buf, field, rng));
}

function writeFieldInPlace(buf: Buffer, field: TracedField, rng: Rng): Buffer {
  const at = field.pos;
  switch (field.kind) {
    case 'int8':
      if (at + 1 <= buf.length) buf.writeInt8(rng.pick([0, -1, 127, -128, 1]), at);
      return buf;
    case 'int16':
    case 'len16':
      if (at + 2 <= buf.length) buf.writeInt16BE(rng.pick(INT16_EXTREMES), at);
      return buf;
    case 'int32':
    case 'len32':
    case 'count32':
      if (at + 4 <= buf.length) buf.writeInt32BE(rng.chance(0.3) && field.kind === 'count32' ? rng.int(1_000_000) : rng.pick(INT32_EXTREMES), at);
      return buf;
    case 'int64':
      if (at + 8 <= buf.length) {
        const v = rng.pick([0n, -1n, 0x7fffffffffffffffn, -0x8000000000000000n, 0x20000000000000n, -2n]);
        buf.writeBigInt64BE(v, at);
      }
      return buf;
    case 'uvarint':
    case 'ulen':
    case 'ucount': {
      // Replace the varint at `at` (its length read from its continuation bits) with another.
      let end = at;
      while (end < buf.length && end - at < 5 && (buf[end]! & 0x80) !== 0) end++;
      end = Math.min(buf.length, end + 1);
      const replacement: Buffer = rng.chance(0.3) ? Buffer.from([rng.int(256) | 0x80, rng.int(128)]) : rng.pick(VARINT_EXTREMES);
      return Buffer.concat([buf.subarray(0, at), replacement, buf.subarray(end)]);
    }
  }
}

/** Applies one to three mutations to a valid frame. */
export function mutate(frame: Buffer, fields: TracedField[], rng: Rng, apis: AdvertisedApi[]): Mutated {
  let buf: Buffer = Buffer.from(frame);
  let framingBroken = false;
  const applied: Mutation[] = [];
  const rounds = rng.chance(0.7) ? 1 : rng.range(2, 3);
  for (let i = 0; i < rounds; i++) {
    const m = rng.pick(MUTATIONS);
    applied.push(m);
    const bodyStart = 4;
    switch (m) {
      case 'bitflip':
        for (let k = rng.range(1, 8); k > 0 && buf.length > bodyStart; k--) buf[rng.range(bodyStart, buf.length - 1)]! ^= 1 << rng.int(8);
        break;
      case 'byte':
        if (buf.length > bodyStart) buf[rng.range(bodyStart, buf.length - 1)] = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]);
        break;
      case 'truncate':
        buf = buf.subarray(0, rng.range(bodyStart, Math.max(bodyStart, buf.length - 1)));
        break;
      case 'tail':
        buf = Buffer.concat([buf, rng.bytes(rng.range(1, 64))]);
        break;
      case 'length':
      case 'count':
      case 'number': {
        const want = m === 'length' ? ['len16', 'len32', 'ulen'] : m === 'count' ? ['count32', 'ucount'] : ['int8', 'int16', 'int32', 'int64', 'uvarint'];
        const candidates = fields.filter((f) => want.includes(f.kind));
        if (candidates.length > 0) buf = writeField(buf, rng.pick(candidates), rng);
        break;
      }
      case 'size':
        framingBroken = true;
        break;
      case 'api': {
        if (buf.length < 8) break;
        if (rng.chance(0.7)) {
          const api = rng.pick(apis);
          buf.writeInt16BE(api.apiKey, 4);
          buf.writeInt16BE(rng.range(api.minVersion, api.maxVersion), 6);
        } else {
          buf.writeInt16BE(rng.pick([-1, 0x7fff, 9999, 18]), 4);
          buf.writeInt16BE(rng.pick([-1, 0x7fff, 99]), 6);
        }
        break;
      }
      case 'splice': {
        if (buf.length < 12) break;
        const from = rng.range(bodyStart, buf.length - 1);
        const len = rng.range(1, Math.min(32, buf.length - from));
        const to = rng.range(bodyStart, buf.length - 1);
        buf = Buffer.concat([buf.subarray(0, to), buf.subarray(from, from + len), buf.subarray(to)]);
        break;
      }
    }
  }
  buf = Buffer.from(buf);
  if (buf.length < 4) buf = Buffer.concat([buf, Buffer.alloc(4 - buf.length)]);
  if (framingBroken) {
    const actual = buf.length - 4;
    buf.writeInt32BE(rng.pick([0, -1, 0x7fffffff, -0x80000000, Math.max(0, actual - rng.range(1, 8)), actual + rng.range(1, 64), rng.int(1 << 20)]), 0);
  } else {
    buf.writeInt32BE(buf.length - 4, 0);
  }
  return { frame: buf, framingBroken, applied };
}

interface CaseOutcome {
  kind: 'answered' | 'closed' | 'timeout' | 'unanswered';
  responses: Buffer[];
}

/** A connection that sends raw frames and hands back whole response frames. */
class RawConnection {
  readonly socket: net.Socket;
  private readonly framer = new Framer(1 << 30);
  private frames: Buffer[] = [];
  private waiter: (() => void) | null = null;
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.framer.push(chunk, (f) => this.frames.push(Buffer.from(f)));
      } catch {
        this.frames.push(Buffer.alloc(0)); // a response frame the framer refused: reported as undecodable
      }
      this.waiter?.();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  static open(host: string, port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, 5000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new RawConnection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** Writes `frame` then a sentinel ApiVersions v0; waits for the sentinel's answer, a close, or the timeout. */
  async exchange(frame: Buffer, sentinelId: number, timeoutMs: number): Promise<CaseOutcome> {
    this.frames = [];
    this.socket.write(frame);
    this.socket.write(encodeRequest(ApiKey.ApiVersions, 0, sentinelId, 'fuzz-sentinel', {} as never));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sentinelAt = this.frames.findIndex((f) => f.length >= 4 && f.readInt32BE(0) === sentinelId);
      if (sentinelAt >= 0) {
        const before = this.frames.slice(0, sentinelAt);
        const sentinel = this.frames[sentinelAt]!;
        const body = decodeResponse(ApiKey.ApiVersions, 0, sentinel).body as { errorCode: number };
        if (body.errorCode !== 0) throw new Error(`sentinel ApiVersions answered error ${body.errorCode}`);
        return { kind: before.length === 0 ? 'unanswered' : 'answered', responses: before };
      }
      if (this.closed) return { kind: 'closed', responses: this.frames };
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'timeout', responses: this.frames };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** What the broker should make of the frame: the API and version in its header, and the body if it decodes. */
function brokerView(frame: Buffer): { apiKey: number; version: number; correlationId: number; body: any | null } {
  const body = frame.subarray(4);
  const apiKey = body.length >= 2 ? body.readInt16BE(0) : -1;
  const version = body.length >= 4 ? body.readInt16BE(2) : -1;
  const correlationId = body.length >= 8 ? body.readInt32BE(4) : -1;
  let decoded: any = null;
  try {
    if (isSupported(apiKey, version)) decoded = decodeRequest(body).body;
  } catch {
    decoded = null;
  }
  return { apiKey, version, correlationId, body: decoded };
}

/** A request that may rightly get no answer within a case's wait. */
function mayPark(view: ReturnType<typeof brokerView>, timeoutMs: number): boolean {
  if (!view.body) return false;
  if (view.apiKey === ApiKey.Fetch) return view.body.maxWaitMs >= timeoutMs / 2;
  // A join waits for the other members (up to the rebalance timeout), a sync for the leader's assignment.
  return view.apiKey === ApiKey.JoinGroup || view.apiKey === ApiKey.SyncGroup;
}

function checkResponse(view: ReturnType<typeof brokerView>, response: Buffer): string | null {
  if (response.length < 4) return 'a response frame too short for a correlation id';
  const cid = response.readInt32BE(0);
  if (cid !== view.correlationId) return `response correlation id ${cid}, request had ${view.correlationId}`;
  // ApiVersions at a version the broker lacks is answered with a v0 body (KIP-511).
  const version = view.apiKey === ApiKey.ApiVersions && !isSupported(view.apiKey, view.version) ? 0 : view.version;
  try {
    decodeResponse(view.apiKey, version, response);
    return null;
  } catch (err) {
    return `response does not decode as ${view.apiKey} v${version}: ${(err as Error).message}`;
  }
}

/** One produce + fetch round trip on a well-formed connection; throws if it does not complete in time. */
async function healthCheck(options: FuzzOptions, n: number): Promise<void> {
  const conn = await KafkaConnection.connect(options.host, options.port, { clientId: 'fuzz-health', timeoutMs: 5000 });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`health check ${n} did not complete within 10 s`)), 10_000).unref());
  try {
    await Promise.race([
      timeout,
      (async () => {
        const value = `health-${n}`;
        const res: any = await conn.request(ApiKey.Produce, 7, {
          transactionalId: null,
          acks: 1,
          timeoutMs: 5000,
          topicData: [{ name: options.healthTopic, partitionData: [{ index: 0, records: encodeRecordBatch([{ key: 'h', value }]) }] }],
        });
        const p = res.responses[0].partitionResponses[0];
        if (p.errorCode !== 0) throw new Error(`health produce failed with error ${p.errorCode}`);
        const fetched: any = await conn.request(ApiKey.Fetch, 11, {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 1 << 20,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [{ topic: options.healthTopic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: Number(p.baseOffset), logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
          forgottenTopicsData: [],
          rackId: '',
        });
        const records = decodeRecordBatches(fetched.responses[0].partitions[0].records ?? Buffer.alloc(0)).flatMap((b) => b.records);
        if (records[0]?.value?.toString() !== value) throw new Error(`health fetch at ${p.baseOffset} returned ${records[0]?.value?.toString()}`);
      })(),
    ]);
  } finally {
    conn.close();
  }
}

/** The broker's advertised APIs, from ApiVersions v3. */
export async function advertisedApis(host: string, port: number): Promise<AdvertisedApi[]> {
  const conn = await KafkaConnection.connect(host, port, { clientId: 'fuzz' });
  try {
    const res: any = await conn.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'penstock-fuzz', clientSoftwareVersion: '1.0' });
    return res.apiKeys.map((k: any) => ({ apiKey: k.apiKey, minVersion: k.minVersion, maxVersion: k.maxVersion }));
  } finally {
    conn.close();
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(options.seed);
  const apis = await advertisedApis(options.host, options.port);
  const report: FuzzReport = {
    seed: options.seed,
    cases: 0,
    answered: 0,
    closed: 0,
    parked: 0,
    incomplete: 0,
    unanswered: 0,
    connections: 0,
    healthChecks: 0,
    perApi: {},
    mutations: {},
    failures: [],
  };
  let conn: RawConnection | null = null;
  const recent: string[] = [];
  try {
    for (let n = 0; n < options.maxCases && Date.now() < options.deadline && report.failures.length === 0; n++) {
      if (!options.brokerAlive()) {
        report.failures.push(`broker process died; last cases:\n${recent.join('\n')}`);
        break;
      }
      if (n % options.healthEvery === 0) {
        try {
          await healthCheck(options, n);
          report.healthChecks++;
        } catch (err) {
          report.failures.push(`well-formed client failed at case ${n}: ${(err as Error).message}; last cases:\n${recent.join('\n')}`);
          break;
        }
      }
      // Every advertised API at every version, in turn.
      const api = apis[n % apis.length]!;
      const version = rng.range(api.minVersion, api.maxVersion);
      const correlationId = 1 + rng.int(0x3fffffff);
      const { frame, fields } = encodeTraced(api.apiKey, version, correlationId, seedBody(api.apiKey, { rng, n, version }));
      const mutated = mutate(frame, fields, rng, apis);
      for (const m of mutated.applied) report.mutations[m] = (report.mutations[m] ?? 0) + 1;
      const label = `${api.apiKey}v${version}`;
      report.perApi[label] = (report.perApi[label] ?? 0) + 1;
      recent.push(`#${n} ${label} [${mutated.applied.join(',')}] ${mutated.frame.subarray(0, 160).toString('hex')}`);
      if (recent.length > 5) recent.shift();

      if (!conn || conn.closed) {
        conn = await RawConnection.open(options.host, options.port);
        report.connections++;
      }
      const view = brokerView(mutated.frame);
      // A broken size prefix may leave the broker rightly waiting for bytes that never come: a short look is
      // enough. Creating partitions (a count flipped to thousands) may rightly take long: it gets a minute.
      const slowAdmin = view.apiKey === ApiKey.CreateTopics || view.apiKey === ApiKey.CreatePartitions;
      const outcome = await conn.exchange(mutated.frame, 0x40000000 + n, mutated.framingBroken ? 50 : slowAdmin ? 60_000 : options.caseTimeoutMs);
      report.cases++;
      if (mutated.framingBroken) {
        // The broker may see a shorter frame and garbage after it, or wait for bytes that never come.
        if (outcome.kind === 'closed') report.closed++;
        else if (outcome.kind === 'timeout') report.incomplete++;
        else report.answered++;
        if (outcome.kind !== 'closed') conn.close();
        continue;
      }
      switch (outcome.kind) {
        case 'closed':
          report.closed++;
          break;
        case 'unanswered':
          if (view.apiKey === ApiKey.Produce && view.body?.acks === 0) report.unanswered++;
          else report.failures.push(`case ${n} (${label}, ${mutated.applied.join(',')}): no response before the next request's\n${recent.join('\n')}`);
          break;
        case 'answered': {
          if (outcome.responses.length !== 1) {
            report.failures.push(`case ${n} (${label}): ${outcome.responses.length} responses to one request\n${recent.join('\n')}`);
            break;
          }
          const problem = checkResponse(view, outcome.responses[0]!);
          if (problem) report.failures.push(`case ${n} (${label}, ${mutated.applied.join(',')}): ${problem}\n${recent.join('\n')}`);
          else report.answered++;
          break;
        }
        case 'timeout':
          if (mayPark(view, options.caseTimeoutMs)) report.parked++;
          else report.failures.push(`case ${n} (${label}, ${mutated.applied.join(',')}): neither a response nor a close within ${options.caseTimeoutMs} ms\n${recent.join('\n')}`);
          conn.close();
          break;
      }
    }
    if (report.failures.length === 0) {
      if (!options.brokerAlive()) report.failures.push(`broker process died; last cases:\n${recent.join('\n')}`);
      else {
        await healthCheck(options, report.cases);
        report.healthChecks++;
      }
    }
  } finally {
    conn?.close();
  }
  return report;
}
