#!/usr/bin/env node
// Summarizes a V8 .cpuprofile (node --cpu-prof): the top functions by self time, with their total
// (inclusive) time, and the share of idle, GC and native code.
//   node bench/cpuprofile-top.mjs <file.cpuprofile> [--top 20] [--callers 2] [--json]
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Self and total time per function (name + file + line) from a .cpuprofile object. */
export function summarizeProfile(profile, { top = 20 } = {}) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Self time: each sample's time delta belongs to the node it hit. The delta of sample i is the time
  // until sample i+1, so the last sample is credited with the profile's end.
  const selfUs = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  const totalUs = profile.endTime - profile.startTime;

  const keyOf = (n) => {
    const f = n.callFrame;
    const file = f.url ? shortUrl(f.url) : '';
    return `${f.functionName || '(anonymous)'}\u0000${file}\u0000${f.url ? f.lineNumber + 1 : ''}`;
  };
  const byFn = new Map();
  const entry = (key) => {
    let e = byFn.get(key);
    if (!e) {
      const [name, file, line] = key.split('\u0000');
      e = { name, file, line, selfUs: 0, totalUs: 0, callers: new Map() };
      byFn.set(key, e);
    }
    return e;
  };
  for (const [id, us] of selfUs) {
    const node = nodes.get(id);
    const e = entry(keyOf(node));
    e.selfUs += us;
    // Who called it: the nearest frame above that is a different function.
    let up = parent.get(id);
    while (up !== undefined && keyOf(nodes.get(up)) === keyOf(node)) up = parent.get(up);
    if (up !== undefined) {
      const callerKey = keyOf(nodes.get(up)).split('\u0000').filter(Boolean).join(' ');
      e.callers.set(callerKey, (e.callers.get(callerKey) ?? 0) + us);
    }
    // Inclusive time: credit each distinct function on the stack once (recursion counts once).
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = keyOf(nodes.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      entry(k).totalUs += us;
    }
  }
  const all = [...byFn.values()];
  const special = (name) => all.filter((e) => e.name === name).reduce((s, e) => s + e.selfUs, 0);
  const idleUs = special('(idle)');
  const busyUs = totalUs - idleUs;
  const rows = all
    .filter((e) => e.name !== '(idle)' && e.name !== '(root)')
    .sort((a, b) => b.selfUs - a.selfUs)
    .slice(0, top)
    .map((e) => ({
      ...e,
      callers: [...e.callers].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([caller, callerUs]) => ({ caller, share: e.selfUs > 0 ? callerUs / e.selfUs : 0 })),
      selfPctOfBusy: busyUs > 0 ? e.selfUs / busyUs : 0,
      totalPctOfBusy: busyUs > 0 ? e.totalUs / busyUs : 0,
    }));
  return {
    durationMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    gcMs: special('(garbage collector)') / 1000,
    programMs: special('(program)') / 1000,
    samples: samples.length,
    top: rows,
  };
}

function shortUrl(url) {
  const file = url.replace(/^file:\/\//, '');
  const i = file.lastIndexOf('/dist/');
  if (i >= 0) return file.slice(i + 1);
  const n = file.lastIndexOf('/node_modules/');
  if (n >= 0) return file.slice(n + 1);
  return file.startsWith('node:') ? file : path.basename(file);
}

export function formatSummary(s, title = '', { callers = 0 } = {}) {
  const lines = [];
  lines.push(
    `${title}${title ? ': ' : ''}${s.durationMs.toFixed(0)} ms profiled, busy ${s.busyMs.toFixed(0)} ms (${((s.busyMs / s.durationMs) * 100).toFixed(0)}%), GC ${s.gcMs.toFixed(0)} ms, (program) ${s.programMs.toFixed(0)} ms, ${s.samples} samples`,
  );
  lines.push(`  ${'self ms'.padStart(8)} ${'self%'.padStart(6)} ${'total%'.padStart(7)}  function  (file:line)`);
  for (const r of s.top) {
    lines.push(
      `  ${(r.selfUs / 1000).toFixed(1).padStart(8)} ${(r.selfPctOfBusy * 100).toFixed(1).padStart(5)}% ${(r.totalPctOfBusy * 100).toFixed(1).padStart(6)}%  ${r.name}${r.file ? `  (${r.file}${r.line ? `:${r.line}` : ''})` : ''}`,
    );
    for (const c of r.callers.slice(0, callers)) lines.push(`  ${''.padStart(24)}   ${(c.share * 100).toFixed(0).padStart(3)}% from ${c.caller}`);
  }
  lines.push('  self% and total% are of busy (non-idle) time; total counts time in the function and everything it called.');
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) {
    console.error('usage: node bench/cpuprofile-top.mjs <file.cpuprofile> [--top N] [--json]');
    process.exit(2);
  }
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 20;
  const callersAt = args.indexOf('--callers');
  const callers = callersAt >= 0 ? Number(args[callersAt + 1]) : 0;
  const s = summarizeProfile(JSON.parse(fs.readFileSync(file, 'utf8')), { top });
  console.log(args.includes('--json') ? JSON.stringify(s, null, 1) : formatSummary(s, path.basename(file), { callers }));
}
