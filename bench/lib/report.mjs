// Turns the runs a benchmark recorded into medians, ratios, targets, a text table and a
// self-contained HTML page with SVG charts (no scripts, no network).
import { fmtNum, fmtPct, fmtRatio, fmtSi, median } from './stats.mjs';

const get = (results, section, key) => results.cases.find((c) => c.section === section && c.key === key);
const runsOf = (c, backend) => c?.runs?.[backend] ?? [];
const med = (c, backend, metric) => median(runsOf(c, backend).map((r) => r[metric]));

/**
 * a/b per round where both sides ran the same number of rounds (interleaved, so drift cancels),
 * otherwise the ratio of medians.
 */
function paired(aRuns, aMetric, bRuns, bMetric = aMetric) {
  if (aRuns.length > 0 && aRuns.length === bRuns.length) {
    return median(aRuns.map((a, i) => (Number.isFinite(a[aMetric]) && Number.isFinite(bRuns[i][bMetric]) && bRuns[i][bMetric] !== 0 ? a[aMetric] / bRuns[i][bMetric] : NaN)));
  }
  const a = median(aRuns.map((r) => r[aMetric]));
  const b = median(bRuns.map((r) => r[bMetric]));
  return a !== null && b ? a / b : null;
}

/**
 * The sendfile ceiling per round: the better of one socket and two sockets at once (the broker's
 * fetch uses two connections), so "÷ ceiling" is never flattered by a single stream's limit.
 */
function sendfileCeilingRuns(results) {
  const one = runsOf(get(results, 'ceiling', 'sendfile'), 'addon');
  const two = runsOf(get(results, 'ceiling', 'sendfile-2'), 'addon');
  if (two.length !== one.length) return one;
  return one.map((r, i) => (two[i].mbPerSec > r.mbPerSec ? two[i] : r));
}

function summarize(results) {
  const summary = [];
  for (const c of results.cases) {
    const entry = { section: c.section, key: c.key, label: c.label, params: c.params, medians: {}, rounds: {} };
    for (const [backend, runs] of Object.entries(c.runs)) {
      const metrics = {};
      for (const name of Object.keys(runs[0] ?? {})) {
        if (name === 'raw') continue;
        const m = median(runs.map((r) => r[name]));
        if (m !== null) metrics[name] = m;
      }
      entry.medians[backend] = metrics;
      entry.rounds[backend] = runs.length;
    }
    summary.push(entry);
  }
  return summary;
}

function targets(results) {
  const out = [];
  const sendfile = sendfileCeilingRuns(results);
  for (const batchBytes of [16384, 1048576]) {
    const fetch = get(results, 'fetch', `1024/${batchBytes}`);
    if (!fetch) continue;
    const nat = runsOf(fetch, 'native');
    const fb = runsOf(fetch, 'fallback');
    const share = sendfile.length ? paired(nat, 'mbPerSec', sendfile) : null;
    out.push({
      target: `fetch through the broker, native, 1 KiB records in ${batchBytes >= 1048576 ? '1 MiB' : '16 KiB'} batches: ≥ 70% of the sendfile ceiling`,
      measured: share,
      display: share === null ? 'not measured' : `${fmtPct(share)} (${fmtSi(med(fetch, 'native', 'mbPerSec'))} MB/s vs ${fmtSi(median(sendfile.map((r) => r.mbPerSec)))} MB/s)`,
      pass: share === null ? null : share >= 0.7,
    });
    const cpu = nat.length && fb.length ? paired(fb, 'brokerCpuPerGb', nat) : null;
    out.push({
      target: `fetch, 1 KiB records in ${batchBytes >= 1048576 ? '1 MiB' : '16 KiB'} batches: fallback broker CPU per GB ≥ 2× native`,
      measured: cpu,
      display: cpu === null ? 'not measured' : `${fmtRatio(cpu)} (${med(fetch, 'fallback', 'brokerCpuPerGb')?.toFixed(2)} vs ${med(fetch, 'native', 'brokerCpuPerGb')?.toFixed(2)} CPU-s/GB)`,
      pass: cpu === null ? null : cpu >= 2,
    });
  }
  const produce = get(results, 'produce', '100/1048576/acks1');
  if (produce) {
    for (const backend of ['native', 'fallback']) {
      const v = med(produce, backend, 'recordsPerSec');
      if (v === null) continue;
      out.push({ target: `produce, 100 B records in 1 MiB batches, acks=1, ${backend}: ≥ 2,000,000 records/s`, measured: v, display: `${fmtNum(v)} records/s`, pass: v >= 2e6 });
    }
  }
  for (const [key, how, floorKey] of [
    ['idle/never', '1 ms apart', 'floor'],
    ['idle-b2b/never', 'back to back', 'floor-b2b'],
  ]) {
    const idle = get(results, 'latency', key);
    if (!idle) continue;
    const floor = get(results, 'latency', floorKey);
    const f50 = med(floor, 'echo', 'p50Us');
    const f99 = med(floor, 'echo', 'p99Us');
    for (const backend of ['native', 'fallback']) {
      const p50 = med(idle, backend, 'p50Us');
      const p99 = med(idle, backend, 'p99Us');
      if (p50 === null) continue;
      const floorNote = (v) => (v === null ? '' : `; echo-server floor ${v.toFixed(0)} µs`);
      out.push({ target: `single-record produce, idle broker, ${how}, acks=1, ${backend}: p50 < 100 µs`, measured: p50, display: `${p50.toFixed(0)} µs${floorNote(f50)}`, pass: p50 < 100 });
      out.push({ target: `single-record produce, idle broker, ${how}, acks=1, ${backend}: p99 < 300 µs`, measured: p99, display: `${p99.toFixed(0)} µs${floorNote(f99)}`, pass: p99 < 300 });
    }
  }
  return out;
}

// ---- text ----

function table(headers, rows, align) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const line = (cells) =>
    cells
      .map((cell, i) => {
        const s = String(cell ?? '');
        return (align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? s.padEnd(widths[i]) : s.padStart(widths[i]);
      })
      .join('  ');
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].map((l) => `  ${l.trimEnd()}`).join('\n');
}

const us = (x) => (x === null || x === undefined ? '—' : x >= 10_000 ? `${(x / 1000).toFixed(1)} ms` : `${x.toFixed(0)} µs`);
const cpu = (x) => (x === null || x === undefined ? '—' : x.toFixed(2));

function textReport(results, tgts) {
  const out = [];
  const m = results.meta;
  out.push(
    `penstock bench — ${m.mode}, ${m.rounds} interleaved round(s), node ${m.node}, ${m.cpus} × ${m.cpuModel}, Linux ${m.kernel}, commit ${m.commit ?? '?'}, ${Math.round(m.durationSeconds ?? 0)} s`,
  );
  out.push('Medians over rounds. n/f = native ÷ fallback, paired per round. CPU in CPU-seconds per GB (1e9 bytes) of record batches.');

  // Ceiling
  const sendfile = get(results, 'ceiling', 'sendfile');
  const writev = get(results, 'ceiling', 'writev');
  out.push('\nCEILING — the addon\'s system calls, no broker');
  const ceilRows = [];
  for (const c of results.cases.filter((x) => x.section === 'ceiling' && x.key.startsWith('sendfile'))) {
    ceilRows.push([c.label, fmtSi(med(c, 'addon', 'mbPerSec')), cpu(med(c, 'addon', 'cpuPerGb')), `reader ${cpu(med(c, 'addon', 'readerCpuPerGb'))}`]);
  }
  if (writev) ceilRows.push([writev.label, fmtSi(med(writev, 'addon', 'mbPerSec')), cpu(med(writev, 'addon', 'cpuPerGb')), '']);
  if (results.native?.skipped) ceilRows.push([`skipped: ${results.native.skipped}`, '', '', '']);
  out.push(table(['', 'MB/s', 'CPU/GB', ''], ceilRows));

  // Micro
  const micro = results.cases.filter((c) => c.section === 'micro');
  if (micro.length) {
    out.push('\nMICRO — both backends through the Io interface');
    const rows = micro.map((c) => {
      const isCrc = c.key.startsWith('crc32c');
      const isAppend = c.key.startsWith('partition-append') || c.key.startsWith('validate');
      const metric = isAppend ? 'recordsPerSec' : 'gbPerSec';
      const unit = isAppend ? 'records/s' : 'GB/s';
      const n = med(c, 'native', metric);
      const f = med(c, 'fallback', metric);
      return [
        c.label,
        unit,
        isAppend ? fmtSi(n) : n?.toFixed(2) ?? '—',
        isAppend ? fmtSi(f) : f?.toFixed(2) ?? '—',
        fmtRatio(paired(runsOf(c, 'native'), metric, runsOf(c, 'fallback'))),
        isCrc
          ? `${med(c, 'native', 'nsPerCall')?.toFixed(0)} / ${med(c, 'fallback', 'nsPerCall')?.toFixed(0)} ns per call`
          : c.key.startsWith('validate')
            ? `${med(c, 'native', 'gbPerSec')?.toFixed(2)} / ${med(c, 'fallback', 'gbPerSec')?.toFixed(2)} GB/s`
            : `CPU/GB ${cpu(med(c, 'native', 'cpuPerGb'))} / ${cpu(med(c, 'fallback', 'cpuPerGb'))}`,
      ];
    });
    out.push(table(['', 'unit', 'native', 'fallback', 'n/f', 'native / fallback'], rows));
  }

  // Produce
  const produce = results.cases.filter((c) => c.section === 'produce');
  const writevMb = writev ? median(runsOf(writev, 'addon').map((r) => r.mbPerSec)) : null;
  if (produce.length) {
    out.push('\nPRODUCE through the broker — load generator, 2 connections × 2 partitions, pipelined');
    const rows = [];
    for (const c of produce) {
      for (const b of ['native', 'fallback']) {
        if (!runsOf(c, b).length) continue;
        rows.push([
          b === 'native' ? c.label : '',
          b,
          fmtSi(med(c, b, 'recordsPerSec')),
          fmtSi(med(c, b, 'mbPerSec')),
          `${cpu(med(c, b, 'brokerCpuPerGb'))} (${cpu(med(c, b, 'brokerUserPerGb'))}+${cpu(med(c, b, 'brokerSystemPerGb'))})`,
          fmtPct(med(c, b, 'brokerCpuShare')),
          fmtPct(med(c, b, 'generatorCpuShare')),
          fmtPct(med(c, b, 'otherCpuShare')),
          us(med(c, b, 'latencyP50Us')),
          us(med(c, b, 'latencyP99Us')),
          b === 'native' ? fmtRatio(paired(runsOf(c, 'native'), 'mbPerSec', runsOf(c, 'fallback'))) : fmtRatio(paired(runsOf(c, 'fallback'), 'brokerCpuPerGb', runsOf(c, 'native'))),
          fmtPct(writevMb ? med(c, b, 'mbPerSec') / writevMb : null),
        ]);
      }
    }
    out.push(table(['', 'backend', 'records/s', 'MB/s', 'broker CPU/GB (usr+sys)', 'broker CPU', 'gen CPU', 'other', 'p50', 'p99', 'n/f MB/s | f/n CPU', '÷ writev'], rows, ['l', 'l']));
    out.push('  broker / gen / other CPU: cores used over the window by the broker, the load generator, and everything else on the machine.');
    out.push('  p50/p99: latency under full load, write of a request to its ack. ÷ writev: MB/s over the writev ceiling (median).');
    out.push('  n/f MB/s | f/n CPU: on the native row native ÷ fallback MB/s; on the fallback row fallback ÷ native broker CPU per GB.');
  }

  // Fetch
  const fetch = results.cases.filter((c) => c.section === 'fetch');
  const ceilingRuns = sendfileCeilingRuns(results);
  const sendfileMb = ceilingRuns.length ? median(ceilingRuns.map((r) => r.mbPerSec)) : null;
  if (fetch.length) {
    out.push('\nFETCH through the broker — ~1 MiB per fetch, 2 connections × 4 in flight, over the log just produced');
    const rows = [];
    for (const c of fetch) {
      for (const b of ['native', 'fallback']) {
        if (!runsOf(c, b).length) continue;
        rows.push([
          b === 'native' ? c.label : '',
          b,
          fmtSi(med(c, b, 'recordsPerSec')),
          fmtSi(med(c, b, 'mbPerSec')),
          `${cpu(med(c, b, 'brokerCpuPerGb'))} (${cpu(med(c, b, 'brokerUserPerGb'))}+${cpu(med(c, b, 'brokerSystemPerGb'))})`,
          fmtPct(med(c, b, 'brokerCpuShare')),
          fmtPct(med(c, b, 'generatorCpuShare')),
          fmtPct(med(c, b, 'otherCpuShare')),
          b === 'native' ? fmtRatio(paired(runsOf(c, 'native'), 'mbPerSec', runsOf(c, 'fallback'))) : fmtRatio(paired(runsOf(c, 'fallback'), 'brokerCpuPerGb', runsOf(c, 'native'))),
          fmtPct(ceilingRuns.length ? paired(runsOf(c, b), 'mbPerSec', ceilingRuns) : null),
        ]);
      }
    }
    out.push(table(['', 'backend', 'records/s', 'MB/s', 'broker CPU/GB (usr+sys)', 'broker CPU', 'gen CPU', 'other', 'n/f MB/s | f/n CPU', '÷ sendfile'], rows, ['l', 'l']));
    out.push('  n/f MB/s | f/n CPU: on the native row native ÷ fallback MB/s; on the fallback row fallback ÷ native broker CPU per GB.');
    if (sendfileMb) out.push(`  ÷ sendfile: broker fetch MB/s over the sendfile ceiling of the same round, the better of 1 and 2 sockets (median ${fmtSi(sendfileMb)} MB/s).`);
  }

  // Latency
  const lat = results.cases.filter((c) => c.section === 'latency');
  if (lat.length) {
    out.push('\nLATENCY of acknowledged produce (write of the request → its response, at the load generator)');
    const rows = [];
    for (const c of lat) {
      for (const [i, b] of Object.keys(c.runs).entries()) {
        rows.push([i === 0 ? c.label : '', b, us(med(c, b, 'p50Us')), us(med(c, b, 'p99Us')), us(med(c, b, 'p999Us')), us(med(c, b, 'maxUs')), c.key.startsWith('fixed') ? us(med(c, b, 'scheduleP99Us')) : '']);
      }
    }
    out.push(table(['', 'backend', 'p50', 'p99', 'p99.9', 'max', 'p99 from schedule'], rows, ['l', 'l']));
  }

  // rdkafka
  const rk = results.cases.filter((c) => c.section === 'rdkafka');
  if (results.rdkafka?.skipped) out.push(`\nRDKAFKA_PERFORMANCE — skipped: ${results.rdkafka.skipped}`);
  else if (rk.length) {
    out.push(`\nRDKAFKA_PERFORMANCE (librdkafka ${results.rdkafka?.version ?? '?'}, built from the Debian example source${results.rdkafka?.note ? ` with a ${results.rdkafka.note}` : ''})`);
    const rows = [];
    for (const c of rk) {
      for (const b of ['native', 'fallback']) {
        if (!runsOf(c, b).length) continue;
        rows.push([b === 'native' ? c.label : '', b, fmtSi(med(c, b, 'recordsPerSec')), fmtSi(med(c, b, 'mbPerSec')), cpu(med(c, b, 'brokerCpuPerGb')), cpu(med(c, b, 'clientCpuPerGb'))]);
      }
    }
    out.push(table(['', 'backend', 'msgs/s', 'MB/s (payload)', 'broker CPU/GB', 'client CPU/GB'], rows, ['l', 'l']));
    const ours = get(results, 'produce', '100/16384/acks1');
    if (ours) out.push(`  beside it, the bench's own generator, 100 B records in 16 KiB batches: ${fmtSi(med(ours, 'native', 'recordsPerSec'))} / ${fmtSi(med(ours, 'fallback', 'recordsPerSec'))} records/s (native / fallback).`);
  }

  // Targets
  if (tgts.length) {
    out.push('\nTARGETS');
    out.push(table(['', 'target', 'measured'], tgts.map((t) => [t.pass === null ? '  ?' : t.pass ? 'PASS' : 'MISS', t.target, t.display]), ['l', 'l', 'l']));
  }
  return out.join('\n');
}

// ---- html ----

const esc = (s) => String(s).replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]);
const COLORS = { native: '#2b6cb0', fallback: '#dd6b20', addon: '#4a5568', echo: '#718096' };

/** A horizontal grouped bar chart as an SVG string; `ref` draws a labelled vertical line. */
function barChart({ title, unit, groups, ref }) {
  const bars = groups.flatMap((g) => g.bars);
  const max = Math.max(ref?.value ?? 0, ...bars.map((b) => b.value ?? 0)) * 1.1 || 1;
  const labelW = 300;
  const plotW = 460;
  const barH = 16;
  const rowGap = 4;
  const groupGap = 12;
  let y = 40;
  const parts = [];
  for (const g of groups) {
    const top = y;
    for (const b of g.bars) {
      const w = Math.max(0, ((b.value ?? 0) / max) * plotW);
      parts.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[b.name] ?? '#718096'}"><title>${esc(`${g.label} — ${b.name}: ${fmtSi(b.value)} ${unit}`)}</title></rect>`);
      parts.push(`<text x="${labelW + w + 4}" y="${y + barH - 4}" font-size="11">${esc(b.value === null || b.value === undefined ? 'n/a' : `${fmtSi(b.value)}${b.note ? ` ${b.note}` : ''}`)}</text>`);
      y += barH + rowGap;
    }
    parts.push(`<text x="${labelW - 8}" y="${(top + y - rowGap) / 2 + 4}" font-size="12" text-anchor="end">${esc(g.label)}</text>`);
    y += groupGap;
  }
  if (ref?.value) {
    const x = labelW + (ref.value / max) * plotW;
    parts.push(`<line x1="${x}" y1="30" x2="${x}" y2="${y - groupGap}" stroke="#c53030" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${x}" y="26" font-size="11" fill="#c53030" text-anchor="middle">${esc(`${ref.label}: ${fmtSi(ref.value)}`)}</text>`);
  }
  const height = y + 10;
  return `<figure><svg xmlns="http://www.w3.org/2000/svg" width="${labelW + plotW + 90}" height="${height}" font-family="sans-serif">
<text x="4" y="16" font-size="14" font-weight="bold">${esc(title)} (${esc(unit)})</text>
${parts.join('\n')}
</svg></figure>`;
}

function htmlReport(results, text) {
  const charts = [];
  const sendfile = get(results, 'ceiling', 'sendfile');
  const writev = get(results, 'ceiling', 'writev');
  const byBackend = (c, metric) => Object.keys(c.runs).map((b) => ({ name: b, value: med(c, b, metric) }));
  const section = (name) => results.cases.filter((c) => c.section === name);

  const produce = section('produce');
  if (produce.length) {
    charts.push(barChart({ title: 'Produce through the broker', unit: 'MB/s', groups: produce.map((c) => ({ label: c.label, bars: byBackend(c, 'mbPerSec') })), ref: writev && { label: 'writev ceiling', value: med(writev, 'addon', 'mbPerSec') } }));
    charts.push(barChart({ title: 'Produce through the broker', unit: 'records/s', groups: produce.map((c) => ({ label: c.label, bars: byBackend(c, 'recordsPerSec') })), ref: { label: 'target 2M', value: 2e6 } }));
    charts.push(barChart({ title: 'Produce: broker CPU per GB', unit: 'CPU-s/GB', groups: produce.map((c) => ({ label: c.label, bars: byBackend(c, 'brokerCpuPerGb') })) }));
  }
  const fetch = section('fetch');
  if (fetch.length) {
    charts.push(barChart({ title: 'Fetch through the broker', unit: 'MB/s', groups: fetch.map((c) => ({ label: c.label, bars: byBackend(c, 'mbPerSec') })), ref: sendfile && { label: 'sendfile ceiling', value: median(sendfileCeilingRuns(results).map((r) => r.mbPerSec)) } }));
    charts.push(barChart({ title: 'Fetch: broker CPU per GB', unit: 'CPU-s/GB', groups: fetch.map((c) => ({ label: c.label, bars: byBackend(c, 'brokerCpuPerGb') })) }));
  }
  const lat = section('latency');
  if (lat.length) {
    for (const metric of ['p50Us', 'p99Us', 'p999Us']) {
      charts.push(barChart({ title: `Acknowledged produce latency ${metric.replace('Us', '').replace('p999', 'p99.9')}`, unit: 'µs', groups: lat.map((c) => ({ label: c.label, bars: byBackend(c, metric) })) }));
    }
  }
  const micro = section('micro');
  if (micro.length) {
    charts.push(
      barChart({
        title: 'Micro: throughput',
        unit: 'GB/s',
        groups: micro.filter((c) => !c.key.startsWith('partition-append') && !c.key.startsWith('validate')).map((c) => ({ label: c.label, bars: byBackend(c, 'gbPerSec') })),
      }),
    );
    charts.push(barChart({ title: 'Micro: the append path', unit: 'records/s', groups: micro.filter((c) => c.key.startsWith('partition-append') || c.key.startsWith('validate')).map((c) => ({ label: c.label, bars: byBackend(c, 'recordsPerSec') })) }));
  }
  const rk = section('rdkafka');
  if (rk.length) charts.push(barChart({ title: 'rdkafka_performance against the broker', unit: 'msgs/s', groups: rk.map((c) => ({ label: c.label, bars: byBackend(c, 'recordsPerSec') })) }));

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>penstock bench ${esc(results.meta.startedAt)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#1a202c}pre{background:#f7fafc;padding:12px;overflow-x:auto;font-size:12px}figure{margin:16px 0}
.legend span{display:inline-block;margin-right:16px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}</style></head>
<body><h1>penstock bench</h1>
<p>${esc(`${results.meta.mode}, ${results.meta.rounds} round(s), ${results.meta.startedAt}, node ${results.meta.node}, ${results.meta.cpus} × ${results.meta.cpuModel}, commit ${results.meta.commit ?? '?'}`)}</p>
<p class="legend"><span><i style="background:${COLORS.native}"></i>native</span><span><i style="background:${COLORS.fallback}"></i>fallback</span><span><i style="background:${COLORS.echo}"></i>echo-server floor</span><span><i style="background:#c53030"></i>ceiling / target</span></p>
${charts.join('\n')}
<h2>Table</h2><pre>${esc(text)}</pre>
</body></html>
`;
}

export function buildReport(results) {
  const tgts = targets(results);
  const text = textReport(results, tgts);
  return { summary: summarize(results), targets: tgts, text, html: htmlReport(results, text) };
}
