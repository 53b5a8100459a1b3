import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type RunResult } from '../helpers/process.js';

/** The compiled CLI; `npm run build:ts` makes it (npm test builds before vitest). */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js');

export interface CliResult extends RunResult {
  out: string;
}

/** Runs `penstock ...args` as a child process with a hard time limit (killed by PID if it overruns). */
export async function penstock(args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build:ts first`);
  const result = await run(process.execPath, [CLI, ...args], { input: options.input, env: options.env, timeoutMs: options.timeoutMs ?? 20_000 });
  return { ...result, out: result.stdout.toString() };
}

/** `--bootstrap-server host:port` for a running broker. */
export function bootstrap(running: { host: string; port: number }): string[] {
  return ['--bootstrap-server', `${running.host}:${running.port}`];
}

/** A broker address nothing listens on: a port bound and closed again. */
export async function deadAddress(): Promise<string> {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

/** Column values of an aligned table printed by the CLI: header row → objects. */
export function parseTable(text: string): Record<string, string>[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]!.trim().split(/\s{2,}/);
  return lines.slice(1).map((line) => {
    const cells = line.trim().split(/\s{2,}/);
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}

export interface RunningCli {
  readonly pid: number;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal by PID (no-op once exited). */
  signal(signal: NodeJS.Signals): void;
}

/** Starts `penstock ...args` in the background with a hard time limit; output can be read while it runs. */
export async function spawnPenstock(args: string[], options: { timeoutMs?: number } = {}): Promise<RunningCli> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  let running = true;
  const kill = (signal: NodeJS.Signals): void => {
    if (running && child.pid) process.kill(child.pid, signal);
  };
  const timer = setTimeout(() => kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      running = false;
      clearTimeout(timer);
      resolve({ code, signal });
    }),
  );
  spawned.add(kill);
  void exited.then(() => spawned.delete(kill));
  return { pid: child.pid!, stdout: () => out, stderr: () => err, exited, signal: kill };
}

const spawned = new Set<(signal: NodeJS.Signals) => void>();

/** Kills what spawnPenstock started and is still running (for afterEach/afterAll). */
export function killSpawned(): void {
  for (const kill of spawned) kill('SIGKILL');
}

/** Polls `check` every `intervalMs` until it returns true, at most `attempts` times. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, { attempts = 150, intervalMs = 100 } = {}): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}
