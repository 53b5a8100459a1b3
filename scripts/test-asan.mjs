#!/usr/bin/env node
// `npm run test:asan`: builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer (cmake-js,
// PENSTOCK_SANITIZE=ON) into its own directory and runs the native project's io tests against it.
//
// The sanitizer build never touches build/Release: it goes to node_modules/.cache/penstock-asan and the
// loader is pointed there with node-gyp-build's PENSTOCK_PREBUILD override, so a test run elsewhere in
// this tree never picks up an addon that cannot load without the ASan runtime preloaded.
//
// Node itself is not instrumented, so the ASan runtime must come first in the process: LD_PRELOAD of
// the compiler's libasan. LeakSanitizer is off (detect_leaks=0): V8 and Node keep allocations alive
// until exit by design and LSan would report them on every run, burying anything of ours. UBSan
// findings abort (the build uses -fno-sanitize-recover=all), so any report fails the run.
// Run it through npm (npm passes nodedir to cmake-js; run directly, cmake-js downloads headers).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ASAN_ROOT = path.join(ROOT, 'node_modules', '.cache', 'penstock-asan');
const BIN = path.join(ROOT, 'node_modules', '.bin');
const BUILD_TIMEOUT_MS = 5 * 60_000;
const TEST_TIMEOUT_MS = 10 * 60_000;
/** What a sanitizer prints when it finds something. */
const FINDINGS = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer/;

function fail(message) {
  console.error(`test:asan: ${message}`);
  process.exit(1);
}

if (process.platform !== 'linux') fail('runs on Linux only (it preloads libasan with LD_PRELOAD)');

// 1. The sanitizer build: Debug (asserts on), -O1 -g -fsanitize=address,undefined from CMakeLists.txt.
console.log(`test:asan: building the sanitizer addon into ${path.relative(ROOT, ASAN_ROOT)}`);
const build = spawnSync(
  path.join(BIN, 'cmake-js'),
  ['rebuild', '--debug', '--out', path.join(ASAN_ROOT, 'build'), '--CDPENSTOCK_SANITIZE=ON'],
  { cwd: ROOT, stdio: 'inherit', timeout: BUILD_TIMEOUT_MS },
);
if (build.status !== 0) fail(`cmake-js failed (${build.error?.message ?? `exit ${build.status}`})`);
const addon = path.join(ASAN_ROOT, 'build', 'Debug', 'penstock.node');
if (!fs.existsSync(addon)) fail(`${addon} was not built`);

// 2. Proof it is the instrumented build, not a leftover normal one.
const nm = spawnSync('nm', ['-D', '--undefined-only', addon], { encoding: 'utf8' });
if (!/__asan_init/.test(nm.stdout) || !/__ubsan_handle_/.test(nm.stdout)) fail(`${addon} has no ASan/UBSan instrumentation`);

// 3. The runtime of the compiler that built it (CMake's default C++ compiler is c++, GCC here).
const cxx = process.env.CXX || 'c++';
const libasan = spawnSync(cxx, ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim() ?? '';
if (!path.isAbsolute(libasan) || !fs.existsSync(libasan)) fail(`${cxx} -print-file-name=libasan.so gave "${libasan}": no ASan runtime`);

const env = {
  ...process.env,
  LD_PRELOAD: libasan,
  PENSTOCK_PREBUILD: ASAN_ROOT,
  ASAN_OPTIONS: 'detect_leaks=0:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1',
  UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
};

// 4. Under that environment the loader picks the sanitizer build, and both runtimes are mapped.
const probe = spawnSync(
  process.execPath,
  [
    '-e',
    `const p = require('node-gyp-build').resolve(${JSON.stringify(ROOT)}); require(p);
     const maps = require('fs').readFileSync('/proc/self/maps', 'utf8');
     console.log(JSON.stringify({ path: p, asan: /libasan\\.so/.test(maps), ubsan: /libubsan\\.so/.test(maps) }))`,
  ],
  { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 },
);
let loaded;
try {
  loaded = JSON.parse(probe.stdout);
} catch {
  fail(`loading the sanitizer addon failed: ${probe.stdout}${probe.stderr}`);
}
if (loaded.path !== addon || !loaded.asan || !loaded.ubsan) fail(`expected ${addon} with libasan and libubsan mapped, got ${probe.stdout}`);
console.log(`test:asan: the loader resolves ${path.relative(ROOT, addon)}; libasan (preloaded) and libubsan are mapped`);

// 5. The native project's io tests, output mirrored and scanned for sanitizer reports.
const args = ['run', '--project', 'native', 'test/io', ...process.argv.slice(2)];
console.log(`test:asan: vitest ${args.join(' ')}`);
const child = spawn(path.join(BIN, 'vitest'), args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
let output = '';
const mirror = (to) => (chunk) => {
  output += chunk;
  to.write(chunk);
};
child.stdout.on('data', mirror(process.stdout));
child.stderr.on('data', mirror(process.stderr));
const timer = setTimeout(() => {
  console.error(`test:asan: vitest still running after ${TEST_TIMEOUT_MS / 1000} s; killing it`);
  process.kill(child.pid, 'SIGKILL');
}, TEST_TIMEOUT_MS);
child.on('close', (code, signal) => {
  clearTimeout(timer);
  const findings = output.split('\n').filter((line) => FINDINGS.test(line));
  if (findings.length > 0) fail(`sanitizer reports:\n${findings.join('\n')}`);
  if (code !== 0) fail(`vitest exited with ${code ?? signal}`);
  console.log('test:asan: io tests passed on the ASan+UBSan addon; no sanitizer reports');
  checkLeaks();
});

// 6. Leaks, where LSan can judge: the stalled-send fixture ending the two ways a process or worker ends
// normally (sockets destroyed; worker terminated, which runs the addon's env cleanup hook). Node frees
// V8's heap on those paths, so any leak left is ours. (process.exit() skips that teardown: LSan then
// lists V8's own allocations, which is why the vitest run above has detect_leaks=0.)
function checkLeaks() {
  const fixture = path.join(ROOT, 'test', 'io', 'fixtures', 'stalled-send.mjs');
  for (const mode of ['close', 'worker']) {
    const run = spawnSync(process.execPath, [fixture, mode, ROOT], {
      cwd: ROOT,
      env: { ...env, ASAN_OPTIONS: env.ASAN_OPTIONS.replace('detect_leaks=0', 'detect_leaks=1') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const reports = `${run.stdout}${run.stderr}`.split('\n').filter((line) => FINDINGS.test(line) || /leak of/.test(line));
    if (run.status !== 0 || reports.length > 0) {
      fail(`stalled-send ${mode} with leak detection: exit ${run.status ?? run.signal}\n${run.stderr}`);
    }
    console.log(`test:asan: stalled-send ${mode}: exited cleanly, LeakSanitizer found nothing`);
  }
}
