/** Offset commits as a simple consumer (generation -1, no member), tracked for checking after a crash. */
import type { KafkaConnection } from '../../../src/client/kafka-connection.js';
import { ApiKey } from '../../../src/protocol/index.js';
import type { Ledger } from './ledger.js';

export interface CommitState {
  group: string;
  topic: string;
  partitions: number;
  /** The last commit the broker acknowledged. */
  acked: number[] | null;
  /** The commit sent and not (yet) acknowledged when the broker died. */
  inflight: number[] | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Commits the acknowledged log ends one request at a time, OffsetCommit v2..v7 in turn, until stopped. */
export async function commitUntilStopped(conn: KafkaConnection, ledger: Ledger, state: CommitState, stopped: () => boolean): Promise<string[]> {
  const errors: string[] = [];
  for (let version = 2; !stopped() && !conn.socket.destroyed; version = version === 7 ? 2 : version + 1) {
    const offsets = Array.from({ length: state.partitions }, (_, p) => ledger.ackedEnd.get(p) ?? 0);
    state.inflight = offsets;
    let res: any;
    try {
      res = await conn.request(ApiKey.OffsetCommit, version, {
        groupId: state.group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        groupInstanceId: null,
        retentionTimeMs: -1,
        topics: [{ name: state.topic, partitions: offsets.map((committedOffset, partitionIndex) => ({ partitionIndex, committedOffset, committedLeaderEpoch: -1, committedMetadata: null })) }],
      });
    } catch {
      break;
    }
    const codes = res.topics[0].partitions.map((p: any) => p.errorCode);
    if (codes.some((c: number) => c !== 0)) errors.push(`OffsetCommit v${version} answered ${codes.join(',')}`);
    else {
      state.acked = offsets;
      state.inflight = null;
    }
    await sleep(15);
  }
  return errors;
}

/** After a restart: the committed offsets are the last acknowledged commit, or the one in flight. */
export async function checkCommits(conn: KafkaConnection, state: CommitState): Promise<void> {
  const fetched: any = await conn.request(ApiKey.OffsetFetch, 5, {
    groupId: state.group,
    topics: [{ name: state.topic, partitionIndexes: Array.from({ length: state.partitions }, (_, p) => p) }],
  });
  if (fetched.errorCode !== 0) throw new Error(`OffsetFetch failed with error ${fetched.errorCode}`);
  const committed: number[] = fetched.topics[0].partitions.map((p: any) => Number(p.committedOffset));
  const candidates = [state.acked ?? Array(state.partitions).fill(-1), ...(state.inflight ? [state.inflight] : [])];
  if (!candidates.some((c) => c.every((v, i) => v === committed[i]))) {
    throw new Error(`committed offsets ${committed.join(',')} after restart; last acknowledged ${state.acked?.join(',') ?? 'none'}, in flight ${state.inflight?.join(',') ?? 'none'}`);
  }
  state.acked = committed.every((v) => v === -1) ? null : committed;
  state.inflight = null;
}
