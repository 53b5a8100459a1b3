/**
 * Brokers in child processes, started through the CLI of the private build, so a test can SIGKILL
 * them, restart them on the same data directory, read their RSS and fds, and lower their fd limit.
 * Every child is registered; `killAllChildren()` (in afterEach) kills them by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { privateBuild } from './build.js';

export interface BrokerChildOptions {
  dataDir: string;
  fsync?: 'always' | 'never';
  /** Broker settings by Kafka name (`--override k=v`). */
  overrides?: Record<string, string | number | boolean>;
  /** Runs the broker under `ulimit -n N` (soft and hard). */
  maxOpenFiles?: number;
  /** Give up waiting for 'broker started' after this long (default 30 s). */
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** The last lines a child printed, for diagnostics; bounded. */
const MAX_KEPT_LINES = 2000;

export class BrokerChild {
  port = 0;
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      if (this.stderr.length > 64 * 1024) this.stderr = this.stderr.slice(-32 * 1024);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private onStdout(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) {
      if (!line.startsWith('{')) continue;
      try {
        this.lines.push(JSON.parse(line) as LogLine);
      } catch {
        continue;
      }
      if (this.lines.length > MAX_KEPT_LINES) this.lines.splice(0, this.lines.length - MAX_KEPT_LINES);
    }
  }

  /** SIGKILL by PID; resolves once the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.alive) {
      try {
        process.kill(this.pid, signal);
      } catch {
        /* already gone */
      }
    }
    await this.exited;
  }

  /** Resident set size in bytes, from /proc/<pid>/status. */
  rss(): number {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : 0;
  }

  /** Open fds, split into sockets and the rest. */
  fds(): { total: number; sockets: number; files: number } {
    let sockets = 0;
    let files = 0;
    let total = 0;
    for (const fd of fs.readdirSync(`/proc/${this.pid}/fd`)) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${this.pid}/fd/${fd}`);
      } catch {
        continue;
      }
      total++;
      if (target.startsWith('socket:')) sockets++;
      else if (target.startsWith('/')) files++;
    }
    return { total, sockets, files };
  }

  /** Log lines at warn (40) or above. */
  warnings(): LogLine[] {
    return this.lines.filter((l) => l.level >= 40);
  }

  describe(): string {
    const tail = this.lines
      .slice(-20)
      .map((l) => JSON.stringify(l))
      .join('\n');
    return `broker pid ${this.pid} (exit ${this.child.exitCode ?? this.child.signalCode ?? 'running'})\nstderr: ${this.stderr.slice(-4000)}\nlast log lines:\n${tail}`;
  }
}

const children = new Set<BrokerChild>();

/** Starts a broker child on port 0; resolves once it logged 'broker started' with its port. */
export async function startBrokerChild(options: BrokerChildOptions): Promise<BrokerChild> {
  const child = spawnBrokerChild(options);
  await child.started(options.startTimeoutMs ?? 30_000);
  return child;
}

/** Spawns without waiting: for killing a broker while it is still recovering. */
export function spawnBrokerChild(options: BrokerChildOptions): BrokerChild & { started(timeoutMs: number): Promise<void> } {
  const root = builtRoot;
  if (!root) throw new Error('call prepareBrokerChildren() in beforeAll first');
  const args = [path.join(root, 'dist/cli/main.js'), 'broker', '--port', '0', '--data-dir', options.dataDir, '--log-level', 'info'];
  if (options.fsync) args.push('--fsync', options.fsync);
  for (const [key, value] of Object.entries(options.overrides ?? {})) args.push('--override', `${key}=${value}`);
  const env = { ...process.env, ...options.env };
  delete env.VITEST;
  delete env.VITEST_WORKER_ID;
  const proc =
    options.maxOpenFiles === undefined
      ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
      : spawn('bash', ['-c', `ulimit -n ${options.maxOpenFiles} && exec "$0" "$@"`, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const broker = new BrokerChild(proc) as BrokerChild & { started(timeoutMs: number): Promise<void> };
  children.add(broker);
  void broker.exited.then(() => children.delete(broker));
  broker.started = (timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = (): void => {
        const line = broker.lines.find((l) => l.msg === 'broker started');
        if (line) return resolve(void (broker.port = line.port as number));
        if (!broker.alive) return reject(new Error(`broker child exited before starting\n${broker.describe()}`));
        if (Date.now() > deadline) {
          void broker.kill();
          return reject(new Error(`broker child did not start within ${timeoutMs} ms\n${broker.describe()}`));
        }
        setTimeout(check, 10);
      };
      check();
    });
  return broker;
}

let builtRoot: string | undefined;

/** Builds (once) what children run. Call from beforeAll with a generous timeout. */
export async function prepareBrokerChildren(): Promise<string> {
  builtRoot = await privateBuild();
  return builtRoot;
}

/** The private build's dist directory (for importing its modules into helper children). */
export function builtDist(): string {
  if (!builtRoot) throw new Error('call prepareBrokerChildren() first');
  return path.join(builtRoot, 'dist');
}

/** Kills every child this module started, by PID. For afterEach/afterAll. */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => c.kill('SIGKILL')));
}
