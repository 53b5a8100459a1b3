import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, 'fixtures', 'stalled-send.mjs');
const root = path.resolve(here, '..', '..');

interface ChildOutcome {
  exited: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  messages: Array<Record<string, unknown>>;
  stderr: string;
}

/** Runs the fixture; if it has not exited by itself within `limitMs`, kills it by PID. */
function runFixture(mode: string, limitMs = 20_000): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fixture, mode, root], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let exitedByItself = true;
    const timer = setTimeout(() => {
      exitedByItself = false;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, limitMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const messages = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolve({ exited: exitedByItself, code, signal, messages, stderr });
    });
  });
}

describe('native sends at teardown (addon loaded directly)', () => {
  it('process.exit() with four stalled sends exits at once', async () => {
    const out = await runFixture('exit');
    expect(out.exited, out.stderr).toBe(true);
    expect(out.code).toBe(0);
    expect(out.messages[0]).toMatchObject({ stalled: true, stats: { activeTransfers: 4 } });
  });

  it('destroying the sockets cancels the sends and lets the loop end by itself', async () => {
    const out = await runFixture('close');
    expect(out.exited, out.stderr).toBe(true);
    expect(out.code).toBe(0);
    const results = out.messages.find((m) => 'results' in m)?.results as Array<{ code: string; bytes: number }>;
    expect(results).toHaveLength(4);
    for (const r of results) {
      expect(r.code).toBe('ECANCELED');
      expect(r.bytes).toBeGreaterThan(0);
    }
  });

  it('terminating a worker with stalled sends cleans up without aborting', async () => {
    const out = await runFixture('worker');
    expect(out.exited, out.stderr).toBe(true);
    expect(out.signal).toBeNull();
    expect(out.code).toBe(0);
    expect(out.messages.find((m) => 'terminated' in m)).toEqual({ terminated: 1 });
  });
});
