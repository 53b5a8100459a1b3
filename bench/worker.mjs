// One benchmark measurement in its own process, so its CPU time is its own and its event loop is
// clean: `node bench/worker.mjs <mode> '<json params>'` prints one JSON line with the figures.
// Started by bench/run.mjs; every mode is bounded in count and time.
// penstock's logger reads its level when first imported: quiet it before loading anything of dist/.
process.env.PENSTOCK_LOG_LEVEL ??= 'warn';
const { runFetch, runFixedRate, runIdleLatency, runProduce } = await import('./lib/loadgen.mjs');
const { runEchoServer, runSink, runSendfileCeiling, runWritevCeiling } = await import('./lib/ceiling.mjs');
const { runMicroAppend, runMicroCrc, runMicroSendParts, runMicroPartitionAppend, runMicroValidate } = await import('./lib/micro.mjs');

const MODES = {
  produce: runProduce,
  fetch: runFetch,
  'fixed-rate': runFixedRate,
  idle: runIdleLatency,
  sink: runSink,
  'ceiling-sendfile': runSendfileCeiling,
  'ceiling-writev': runWritevCeiling,
  'micro-crc': runMicroCrc,
  'micro-sendparts': runMicroSendParts,
  'micro-appendv': runMicroAppend,
  'micro-partition-append': runMicroPartitionAppend,
  'micro-validate': runMicroValidate,
  'echo-server': runEchoServer,
};

const [mode, json] = process.argv.slice(2);
const run = MODES[mode];
if (!run) {
  console.error(`usage: node bench/worker.mjs <${Object.keys(MODES).join('|')}> '<json>'`);
  process.exit(2);
}
try {
  const result = await run(JSON.parse(json ?? '{}'));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
} catch (err) {
  console.error(err?.stack ?? String(err));
  process.exit(1);
}
