#!/usr/bin/env node
// Long protocol fuzzing: the suite's fuzz test (test/reliability/fuzz.test.ts) with bigger bounds.
//
//   npm run fuzz -- --cases 200000 --minutes 5 [--seed N] [--io native|fallback|both]
//
// Each I/O backend gets its own broker child and the full budget. A failure prints PENSTOCK_SEED=<seed>
// to replay it (same cases; the broker's timing may differ).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '200000' },
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string' },
    io: { type: 'string', default: 'both' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: npm run fuzz -- [--cases N] [--minutes M] [--seed S] [--io native|fallback|both]');
  process.exit(0);
}
const minutes = Number(values.minutes);
const cases = Number(values.cases);
if (!(minutes > 0) || !(cases > 0) || !['native', 'fallback', 'both'].includes(values.io)) {
  console.error('--cases and --minutes take positive numbers, --io native, fallback or both');
  process.exit(2);
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const projects = values.io === 'both' ? ['--project', 'native', '--project', 'fallback'] : ['--project', values.io];
const env = {
  ...process.env,
  PENSTOCK_FUZZ_CASES: String(cases),
  PENSTOCK_FUZZ_SECONDS: String(Math.round(minutes * 60)),
  ...(values.seed !== undefined ? { PENSTOCK_SEED: values.seed } : {}),
};
const child = spawn(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', ...projects, 'test/reliability/fuzz.test.ts'], {
  cwd: root,
  env,
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
