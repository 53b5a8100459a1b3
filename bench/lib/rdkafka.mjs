// librdkafka's rdkafka_performance, built at bench time from the example source Debian's
// librdkafka-dev ships, as an independent client beside the bench's own load generator.
import fs from 'node:fs';
import path from 'node:path';
import { runChild } from './procs.mjs';

const SOURCE = '/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c';
const HEADER_DIRS = ['/usr/include/librdkafka'];

// The example is written to be built inside librdkafka's source tree and includes two internal
// headers ("rd.h", "rdtime.h") the -dev package does not install. It uses only rd_ts_t, rd_clock(),
// rd_snprintf, RD_MIN and RD_MAX from them, which this stand-in defines.
const RD_SHIM = `/* Stand-in for librdkafka's internal rd.h, written by penstock's bench: only what
 * rdkafka_performance.c uses (a monotonic microsecond clock and three macros). */
#ifndef PENSTOCK_RD_SHIM_H
#define PENSTOCK_RD_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
typedef int64_t rd_ts_t;
#define rd_snprintf snprintf
#define RD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define RD_MIN(a, b) ((a) < (b) ? (a) : (b))
static inline rd_ts_t rd_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (rd_ts_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
#endif
`;

/** Builds rdkafka_performance into `dir`; returns { binary, shim } or { skipped: reason }. */
export async function buildRdkafkaPerformance(dir) {
  if (!fs.existsSync(SOURCE)) return { skipped: `${SOURCE} not found (install librdkafka-dev)` };
  if (!HEADER_DIRS.some((d) => fs.existsSync(path.join(d, 'rdkafka.h')))) return { skipped: 'librdkafka headers (rdkafka.h) not found' };
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'include'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', 'rd.h'), RD_SHIM);
  fs.writeFileSync(path.join(dir, 'src', 'rdtime.h'), '#include "rd.h"\n');
  const binary = path.join(dir, 'rdkafka_performance');
  // "../src/rd.h" resolves against include/ (→ dir/src/rd.h); "rd.h" and "rdtime.h" against src/.
  const args = ['-O2', '-w', `-I${path.join(dir, 'include')}`, `-I${path.join(dir, 'src')}`, ...HEADER_DIRS.map((d) => `-I${d}`), '-o', binary, SOURCE, '-lrdkafka'];
  const r = await runChild('cc', args, { timeoutMs: 120_000 });
  if (r.code !== 0) return { skipped: `could not build rdkafka_performance: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}` };
  // Its usage text names the library version it runs against.
  const usage = await runChild(binary, ['-h'], { timeoutMs: 10_000 });
  const version = /librdkafka version ([\w.-]+)/.exec(`${usage.stdout}${usage.stderr}`)?.[1] ?? null;
  return { binary, version, shim: 'rd.h/rdtime.h stand-in (not shipped by librdkafka-dev)' };
}

/**
 * Runs rdkafka_performance under a shell that prints its own /proc stat afterwards: fields 16/17
 * (cutime/cstime) then hold the client's CPU, which Node cannot read from a reaped child.
 */
export async function runRdkafka(binary, args, { timeoutMs, ticks }) {
  const script = '"$0" "$@"; s=$?; echo; echo "@@stat $(cat /proc/$$/stat)"; exit $s';
  const t0 = performance.now();
  const r = await runChild('sh', ['-c', script, binary, ...args], { timeoutMs });
  const seconds = (performance.now() - t0) / 1000;
  const statLine = r.stdout.split('\n').find((l) => l.startsWith('@@stat '));
  let clientCpu = null;
  if (statLine) {
    const f = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
    clientCpu = { user: Number(f[13]) / ticks, system: Number(f[14]) / ticks };
  }
  const text = `${r.stdout}\n${r.stderr}`;
  if (r.code !== 0) return { error: `exit ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''}: ${text.trim().split('\n').slice(-3).join(' | ')}`, seconds };
  return { ...parseSummary(text), clientCpu, wallSeconds: seconds };
}

/** The last summary line rdkafka_performance prints, for producer or consumer. */
export function parseSummary(text) {
  const lines = text.split('\n').filter((l) => l.startsWith('% '));
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i];
    let m = /% (\d+) messages produced \((\d+) bytes\), (\d+) delivered .* in (\d+)ms: (\d+) msgs\/s and ([\d.]+) MB\/s/.exec(l);
    if (m) return { messages: Number(m[3]), bytes: Number(m[2]), ms: Number(m[4]), msgsPerSec: Number(m[5]), mbPerSec: Number(m[6]), line: l };
    m = /% (\d+) messages \((\d+) bytes\) consumed in (\d+)ms: (\d+) msgs\/s \(([\d.]+) MB\/s\)/.exec(l);
    if (m && Number(m[1]) > 0) return { messages: Number(m[1]), bytes: Number(m[2]), ms: Number(m[3]), msgsPerSec: Number(m[4]), mbPerSec: Number(m[5]), line: l };
  }
  return { error: `no summary line in rdkafka_performance output: ${text.trim().split('\n').slice(-2).join(' | ')}` };
}
