import { afterEach, describe, expect, it } from 'vitest';
import { ApiKey } from '../../src/protocol/index.js';
import { connect, useBroker } from '../helpers/broker.js';
import { bootstrap, killSpawned, parseTable, penstock, spawnPenstock, waitFor } from './cli.js';

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

describe('penstock consume --group and penstock groups', () => {
  const broker = useBroker();
  afterEach(() => killSpawned());

  async function produce(topic: string, values: string[], extra: string[] = []): Promise<void> {
    const result = await penstock(['produce', topic, ...extra, ...bootstrap(broker())], { input: `${values.join('\n')}\n` });
    expect(result.code, result.stderr).toBe(0);
  }

  it('a group member resumes from what the previous run committed, and groups describe shows the lag', async () => {
    await penstock(['topics', 'create', 'resume', ...bootstrap(broker())]);
    const values = Array.from({ length: 10 }, (_, i) => `r${i}`);
    await produce('resume', values);

    const first = await penstock(['consume', 'resume', '--group', 'resumers', '--from-beginning', '--max', '4', ...bootstrap(broker())]);
    expect(first.code, first.stderr).toBe(0);
    expect(lines(first.out)).toEqual(values.slice(0, 4));

    const described = await penstock(['groups', 'describe', 'resumers', ...bootstrap(broker())]);
    expect(described.code).toBe(0);
    const [summary, partitions] = described.out.split('\n\n');
    expect(parseTable(summary!)).toEqual([{ GROUP: 'resumers', STATE: 'Empty', PROTOCOL: '-', MEMBERS: '0' }]);
    expect(parseTable(partitions!)).toEqual([
      { GROUP: 'resumers', TOPIC: 'resume', PARTITION: '0', 'CURRENT-OFFSET': '4', 'LOG-END-OFFSET': '10', LAG: '6', 'CONSUMER-ID': '-', HOST: '-', 'CLIENT-ID': '-' },
    ]);

    // The next run starts at the committed offset, not at the beginning.
    const second = await penstock(['consume', 'resume', '--group', 'resumers', '--from-beginning', '--max', '6', ...bootstrap(broker())]);
    expect(second.code, second.stderr).toBe(0);
    expect(lines(second.out)).toEqual(values.slice(4));

    const json = await penstock(['groups', 'describe', 'resumers', '--json', ...bootstrap(broker())]);
    const doc = JSON.parse(json.out);
    expect(doc.groups[0]).toMatchObject({ groupId: 'resumers', state: 'Empty', protocolType: 'consumer', members: [], totalLag: 0 });
    expect(doc.groups[0].partitions).toEqual([{ topic: 'resume', partition: 0, committedOffset: 10, logEndOffset: 10, lag: 0, memberId: null }]);

    const listed = await penstock(['groups', 'list', ...bootstrap(broker())]);
    expect(listed.code).toBe(0);
    expect(parseTable(listed.out)).toContainEqual({ GROUP: 'resumers', STATE: 'Empty', 'PROTOCOL-TYPE': 'consumer', PROTOCOL: '-', MEMBERS: '0' });
    const listedJson = JSON.parse((await penstock(['groups', 'list', '--json', ...bootstrap(broker())])).out);
    expect(listedJson.groups).toContainEqual({ groupId: 'resumers', state: 'Empty', protocolType: 'consumer', protocol: '', members: 0 });
  });

  it('lag per partition, from offsets a client committed itself (OffsetCommit)', async () => {
    await penstock(['topics', 'create', 'lagging', '--partitions', '3', ...bootstrap(broker())]);
    await produce('lagging', ['a', 'b', 'c', 'd', 'e'], ['--partition', '0']);
    await produce('lagging', ['f', 'g', 'h'], ['--partition', '1']);
    const c = await connect(broker());
    const commit = await c.request(ApiKey.OffsetCommit, 7, {
      groupId: 'raw-committer',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [
        {
          name: 'lagging',
          partitions: [
            { partitionIndex: 0, committedOffset: 2, committedLeaderEpoch: -1, committedMetadata: null },
            { partitionIndex: 1, committedOffset: 3, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
      ],
    });
    expect(commit.topics[0].partitions.map((p: any) => p.errorCode)).toEqual([0, 0]);

    const result = await penstock(['groups', 'describe', '--group', 'raw-committer', '--json', ...bootstrap(broker())]);
    expect(result.code).toBe(0);
    const group = JSON.parse(result.out).groups[0];
    expect(group.partitions).toEqual([
      { topic: 'lagging', partition: 0, committedOffset: 2, logEndOffset: 5, lag: 3, memberId: null },
      { topic: 'lagging', partition: 1, committedOffset: 3, logEndOffset: 3, lag: 0, memberId: null },
    ]);
    expect(group.totalLag).toBe(3);
  });

  it('two members share the partitions (range assignor), and together read every record once', async () => {
    await penstock(['topics', 'create', 'shared', '--partitions', '4', ...bootstrap(broker())]);
    const groups = broker().broker.groups;
    const a = await spawnPenstock(['consume', 'shared', '--group', 'sharers', '--from-beginning', ...bootstrap(broker())], { timeoutMs: 60_000 });
    await waitFor('the first member to be Stable', () => groups.describeGroup('sharers').state === 'Stable' && groups.describeGroup('sharers').members.length === 1);
    const b = await spawnPenstock(['consume', 'shared', '--group', 'sharers', '--from-beginning', ...bootstrap(broker())], { timeoutMs: 60_000 });
    // The first member learns of the rebalance from a heartbeat (every 3 s) and rejoins.
    await waitFor('both members to be Stable', () => groups.describeGroup('sharers').state === 'Stable' && groups.describeGroup('sharers').members.length === 2);

    const described = await penstock(['groups', 'describe', 'sharers', '--json', ...bootstrap(broker())]);
    const group = JSON.parse(described.out).groups[0];
    expect(group).toMatchObject({ state: 'Stable', protocol: 'range' });
    expect(group.members).toHaveLength(2);
    const assigned = group.members.map((m: any) => m.assignment.map((p: any) => p.partition));
    expect(assigned.map((p: number[]) => p.length)).toEqual([2, 2]);
    expect(assigned.flat().sort()).toEqual([0, 1, 2, 3]);
    for (const m of group.members) expect(m.clientId).toBe('penstock-consume');

    const values = Array.from({ length: 40 }, (_, i) => `s${i}`);
    for (let p = 0; p < 4; p++) await produce('shared', values.filter((_, i) => i % 4 === p), ['--partition', String(p)]);
    await waitFor('every record to be printed', () => lines(a.stdout()).length + lines(b.stdout()).length >= values.length);

    // SIGTERM: commit, leave the group, exit 0.
    a.signal('SIGTERM');
    b.signal('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect((await b.exited).code).toBe(0);
    expect(lines(a.stdout()).length).toBeGreaterThan(0);
    expect(lines(b.stdout()).length).toBeGreaterThan(0);
    expect([...lines(a.stdout()), ...lines(b.stdout())].sort()).toEqual([...values].sort());

    const after = JSON.parse((await penstock(['groups', 'describe', 'sharers', '--json', ...bootstrap(broker())])).out).groups[0];
    expect(after.state).toBe('Empty');
    expect(after.totalLag).toBe(0);
    expect(after.partitions.map((p: any) => p.committedOffset)).toEqual([10, 10, 10, 10]);
  });

  it('an active member shows in describe with its partitions; a standalone commit to its group is refused', async () => {
    await penstock(['topics', 'create', 'watched', ...bootstrap(broker())]);
    await produce('watched', ['w0', 'w1']);
    const groups = broker().broker.groups;
    const member = await spawnPenstock(['consume', 'watched', '--group', 'watchers', '--from-beginning', '--max', '3', ...bootstrap(broker())], { timeoutMs: 60_000 });
    await waitFor('the member to read what is there', () => lines(member.stdout()).length === 2 && groups.describeGroup('watchers').state === 'Stable');

    const described = await penstock(['groups', 'describe', 'watchers', ...bootstrap(broker())]);
    const rows = parseTable(described.out.split('\n\n')[1]!);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ GROUP: 'watchers', TOPIC: 'watched', PARTITION: '0', 'LOG-END-OFFSET': '2', 'CLIENT-ID': 'penstock-consume' });
    expect(rows[0]!['CONSUMER-ID']).toMatch(/^penstock-consume-/);

    // Outside group management, commits are refused while the group has members.
    const standalone = await penstock(['consume', 'watched', '--group', 'watchers', '--partition', '0', '--from-beginning', '--max', '1', ...bootstrap(broker())]);
    expect(standalone.code).toBe(1);
    expect(standalone.stderr).toContain('UNKNOWN_MEMBER_ID');

    await produce('watched', ['w2']);
    const done = await member.exited;
    expect(done.code).toBe(0);
    expect(lines(member.stdout())).toEqual(['w0', 'w1', 'w2']);
    expect(groups.describeGroup('watchers').state).toBe('Empty');
  });

  it('--group with --partition reads and commits without joining (generation -1)', async () => {
    await penstock(['topics', 'create', 'solo', '--partitions', '2', ...bootstrap(broker())]);
    await produce('solo', ['x0', 'x1', 'x2', 'x3'], ['--partition', '1']);
    const first = await penstock(['consume', 'solo', '--group', 'solo-group', '--partition', '1', '--from-beginning', '--max', '3', ...bootstrap(broker())]);
    expect(first.code, first.stderr).toBe(0);
    expect(lines(first.out)).toEqual(['x0', 'x1', 'x2']);
    expect(broker().broker.groups.describeGroup('solo-group').members).toHaveLength(0);

    const second = await penstock(['consume', 'solo', '--group', 'solo-group', '--partition', '1', '--max', '1', ...bootstrap(broker())]);
    expect(lines(second.out)).toEqual(['x3']);
    const group = JSON.parse((await penstock(['groups', 'describe', 'solo-group', '--json', ...bootstrap(broker())])).out).groups[0];
    expect(group.partitions).toEqual([{ topic: 'solo', partition: 1, committedOffset: 4, logEndOffset: 4, lag: 0, memberId: null }]);
  });

  it('describing a group that does not exist exits 1; bad usage exits 2', async () => {
    const missing = await penstock(['groups', 'describe', 'nobody-home', ...bootstrap(broker())]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('group "nobody-home": GROUP_ID_NOT_FOUND');

    for (const args of [['groups'], ['groups', 'remove'], ['groups', 'list', 'extra'], ['groups', 'list', '--verbose']]) {
      const result = await penstock([...args, ...bootstrap(broker())]);
      expect(result.code, args.join(' ')).toBe(2);
    }
    const help = await penstock(['groups', '--help']);
    expect(help.code).toBe(0);
    for (const word of ['list', 'describe', 'LOG-END-OFFSET', 'exit codes']) expect(help.out).toContain(word);
  });
});
