// Child processes of the benchmark: every one is tracked by PID and killed by PID when it is no longer
// needed, when the run ends, and on SIGINT/SIGTERM. CPU time is read from /proc/<pid>/stat.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(BENCH_DIR, '..');
export const CLI = path.join(REPO, 'dist', 'cli', 'main.js');
export const WORKER = path.join(BENCH_DIR, 'worker.mjs');

const live = new Map(); // pid -> ChildProcess

/** Kills every tracked child by PID (SIGKILL): they hold no state the benchmark needs. */
export function killAll() {
  for (const pid of [...live.keys()]) killPid(pid);
}

export function killPid(pid, signal = 'SIGKILL') {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
  live.delete(pid);
}

let hooked = false;
/** Installs exit and signal hooks once, so no child outlives this process. */
export function installCleanup(extra = () => {}) {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    killAll();
    extra();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, killing ${live.size} child process(es)\n`);
      killAll();
      extra();
      process.exit(130);
    });
  }
}

/** Spawns a tracked child; it is forgotten (not killed) when it exits by itself. */
export function spawnTracked(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  if (child.pid === undefined) throw new Error(`could not spawn ${command}`);
  live.set(child.pid, child);
  child.once('exit', () => live.delete(child.pid));
  return child;
}

/**
 * Runs a child to completion with a hard time limit (killed by PID when it overruns) and returns its
 * stdout, stderr and exit code.
 */
export function runChild(command, args, { timeoutMs, env, onSpawn } = {}) {
  return new Promise((resolve) => {
    const child = spawnTracked(command, args, { env: env ?? process.env });
    onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killPid(child.pid);
    }, timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Runs a bench worker (bench/worker.mjs <mode> <json>) and parses the JSON line it prints last. */
export async function runWorker(mode, params, { timeoutMs = 60_000, env } = {}) {
  const r = await runChild(process.execPath, [WORKER, mode, JSON.stringify(params)], { timeoutMs, env: { ...process.env, PENSTOCK_LOG_LEVEL: 'warn', ...env } });
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  const last = lines[lines.length - 1];
  let result = null;
  try {
    result = last ? JSON.parse(last) : null;
  } catch {
    result = null;
  }
  if (r.code !== 0 || !result) {
    const why = r.timedOut ? `timed out after ${timeoutMs} ms` : `exit ${r.code ?? r.signal}`;
    throw new Error(`worker ${mode} failed (${why}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  }
  return result;
}

let clockTicks;
/** Clock ticks per second for /proc/<pid>/stat (CLK_TCK, 100 on Linux almost everywhere). */
export function clockTicksPerSecond() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User and system CPU seconds of a process (all its threads) from /proc/<pid>/stat; null if unreadable. */
export function procCpu(pid, ticks = clockTicksPerSecond()) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks };
}

/** Machine-wide CPU seconds from /proc/stat: busy (everything but idle and iowait) and steal. */
export function machineCpu(ticks = clockTicksPerSecond()) {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return { busy: (user + nice + system + irq + softirq + steal) / ticks, steal: steal / ticks, idle: (idle + iowait) / ticks };
  } catch {
    return null;
  }
}

export function cpuDelta(a, b) {
  if (!a || !b) return null;
  return { user: b.user - a.user, system: b.system - a.system };
}

/** A free TCP port on 127.0.0.1 (bound and released; a race is possible but harmless here). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Starts `penstock broker` in its own process with PENSTOCK_IO=<backend> and waits until it accepts
 * connections. `profileDir` runs it under `node --cpu-prof`; `cli` runs another build's dist/cli/main.js.
 */
export async function startBroker({ backend, dataDir, fsync = 'never', profileDir, overrides = [], timeoutMs = 20_000, cli = CLI }) {
  const port = await freePort();
  fs.mkdirSync(dataDir, { recursive: true });
  const nodeArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const args = [...nodeArgs, cli, 'broker', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', '--fsync', fsync];
  for (const o of overrides) args.push('--override', o);
  const child = spawnTracked(process.execPath, args, { env: { ...process.env, PENSTOCK_IO: backend } });
  let stderr = '';
  child.stderr.on('data', (d) => {
    if (stderr.length < 20_000) stderr += d;
  });
  child.stdout.on('data', (d) => {
    if (stderr.length < 20_000) stderr += d;
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (exited) throw new Error(`broker (${backend}) exited at start: ${stderr.trim().slice(-2000)}`);
    if (Date.now() > deadline) {
      killPid(child.pid);
      throw new Error(`broker (${backend}) did not accept connections within ${timeoutMs} ms: ${stderr.trim().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    backend,
    port,
    pid: child.pid,
    dataDir,
    child,
    output: () => stderr,
    /** SIGKILL: the data directory is thrown away anyway. With `graceful`, SIGTERM and wait (profiles are written at exit). */
    async stop({ graceful = false, timeoutMs: stopMs = 15_000 } = {}) {
      if (exited) return;
      const gone = new Promise((r) => child.once('exit', r));
      if (graceful) {
        killPid(child.pid, 'SIGTERM');
        live.set(child.pid, child); // still ours until it exits
        const timer = setTimeout(() => killPid(child.pid), stopMs);
        await gone;
        clearTimeout(timer);
        live.delete(child.pid);
      } else {
        killPid(child.pid);
        await gone;
      }
    },
  };
}

/** Starts the echo server (bench/worker.mjs echo-server) and resolves with its port once it listens. */
export function startEchoServer({ topic, timeoutMs = 20_000 }) {
  return new Promise((resolve, reject) => {
    const child = spawnTracked(process.execPath, [WORKER, 'echo-server', JSON.stringify({ topic })], { env: { ...process.env, PENSTOCK_LOG_LEVEL: 'warn' } });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      killPid(child.pid);
      reject(new Error(`echo server did not start: ${err}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`echo server exited (${code}): ${err}`));
    });
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (!out.includes('\n')) return;
      clearTimeout(timer);
      const { port } = JSON.parse(line);
      resolve({
        port,
        pid: child.pid,
        async stop() {
          const gone = new Promise((r) => child.once('exit', r));
          killPid(child.pid);
          await gone;
        },
      });
    });
  });
}
