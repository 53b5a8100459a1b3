import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived, for failure messages. */
  output: string;
}

/**
 * The environment for the npm and node processes of these tests: this one's, minus what would make
 * them act on the repository instead of their own directory or change their behaviour. npm exports
 * its whole config as npm_config_* to scripts (npm_config_local_prefix among it); vitest sets VITEST,
 * which silences penstock's logger; PENSTOCK_* would choose the backend for them.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_nodedir', 'npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|vitest|penstock_)/i.test(key) && !keep.has(key)) continue;
    if (key === 'NODE_OPTIONS' || key === 'INIT_CWD' || key === 'NODE_ENV' || key === 'TEST') continue;
    env[key] = value;
  }
  // PATH without the repository's node_modules/.bin (npm run puts it first): no tool of the repo's.
  env.PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir !== '' && path.relative(REPO, dir).startsWith('..'))
    .join(path.delimiter);
  return { ...env, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false', ...extra };
}

/**
 * Runs a command to completion in its own process group; past `timeoutMs` the whole group (npm and
 * the node-gyp, make and compilers under it) is killed by its id and the outcome says so.
 */
export function runBounded(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number; input?: string },
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      output += c.toString();
    });
    const timer = setTimeout(() => {
      output += `\n[killed after ${options.timeoutMs} ms]\n`;
      killGroup(child);
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, output: `$ ${command} ${args.join(' ')}  (in ${options.cwd})\n${output}` });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The JSON lines a program printed (pino logs, `penstock info`), skipping anything else. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not JSON after all
    }
  }
  return lines;
}

export interface CliBroker {
  port: number;
  /** What the broker logged at start: `io` is the backend it runs on. */
  started: Record<string, unknown>;
  /** Everything it printed so far. */
  output(): string;
  /** SIGTERM by PID, SIGKILL after 10 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `penstock broker` from an installed package's bin on a free port; resolves once it listens. */
export function startCliBroker(cli: string, options: { cwd: string; dataDir: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CliBroker> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'broker', '--port', '0', '--data-dir', options.dataDir], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let settled = false;
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    const stop = async (): Promise<number | null> => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    };
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      void stop().then(() => reject(new Error(`${why}\n${output}`)));
    };
    const timer = setTimeout(() => fail(`broker did not start within ${options.timeoutMs} ms`), options.timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const started = jsonLines(output).find((l) => l.msg === 'broker started');
      if (started && !settled) {
        settled = true;
        clearTimeout(timer);
        resolve({ port: Number(started.port), started, output: () => output, stop });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(`broker exited with ${code} before it started`);
    });
  });
}
