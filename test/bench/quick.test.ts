import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/process.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// The benchmark's machinery, not the machine: `--smoke` runs every kind of measurement for a moment
// and must write a well-formed JSON and chart. No figure is checked against a number.
describe('bench --smoke', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-bench-test-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('measures every section and writes JSON, chart and table', async () => {
    const r = await run(process.execPath, [path.join(REPO, 'bench/run.mjs'), '--smoke', '--out', out], { timeoutMs: 110_000 });
    expect(r.stderr).not.toMatch(/FAILED/);
    expect(r.code).toBe(0);
    const text = r.stdout.toString();
    for (const heading of ['CEILING', 'MICRO', 'PRODUCE', 'FETCH', 'LATENCY']) expect(text).toContain(heading);

    const latest = JSON.parse(fs.readFileSync(path.join(out, 'latest.json'), 'utf8'));
    const stamped = fs.readdirSync(out).filter((f) => /^\d{4}-.*-smoke\.json$/.test(f));
    expect(stamped).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(out, stamped[0]!), 'utf8'))).toEqual(latest);
    expect(latest.meta.mode).toBe('smoke');
    expect(latest.errors).toEqual([]);

    const sections = new Set(latest.cases.map((c: { section: string }) => c.section));
    for (const s of ['micro', 'produce', 'fetch', 'latency']) expect(sections).toContain(s);
    const backends = latest.native.skipped ? ['fallback'] : ['native', 'fallback'];
    if (!latest.native.skipped) expect(sections).toContain('ceiling');
    for (const c of latest.cases.filter((x: { section: string }) => x.section === 'produce' || x.section === 'fetch')) {
      for (const b of backends) {
        const [first] = c.runs[b];
        for (const metric of ['recordsPerSec', 'mbPerSec', 'brokerCpuPerGb']) {
          expect(Number.isFinite(first[metric]), `${c.section} ${c.key} ${b} ${metric}`).toBe(true);
          expect(first[metric]).toBeGreaterThan(0);
        }
      }
    }
    expect(Array.isArray(latest.summary)).toBe(true);
    expect(Array.isArray(latest.targets)).toBe(true);

    const html = fs.readFileSync(path.join(out, 'latest.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
  }, 120_000);
});
