// The package as a user gets it: `npm pack` with a fresh prebuild, `npm install` of the tarball into an
// empty project, and a broker started from that install serving a record to kcat. Then the same package
// without a prebuild on a machine that cannot compile: the install still succeeds, the broker runs on
// the pure-JS fallback and says why.
//
// Nothing here touches the repository: the package is staged in a temp dir (sources copied, the
// repo's node_modules linked) so that the prebuild's node-gyp rebuild and pack's tsc never rewrite
// build/ or dist/ under tests running beside this one. Each step is bounded in time.
//
// Backend-independent, so it runs in both projects; the project's PENSTOCK_IO is what the broker of the
// prebuilt install runs on (native: the prebuild serves the fetch; fallback: forced off despite it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, childEnv, jsonLines, runBounded, startCliBroker, type Outcome } from './helpers.js';

const KCAT = '/usr/bin/kcat';
const NPM = 'npm';
const PROJECT_IO = process.env.PENSTOCK_IO ?? 'auto';
/** Where node-gyp-build looks for this machine's prebuild. */
const PLATFORM_DIR = `${process.platform}-${process.arch}`;
const STEP_MS = 180_000;
/** npm with the registry as a fallback only: the tarball's dependencies come from the shared cache. */
const INSTALL_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', '--no-update-notifier'];
/** What the tarball may hold besides package.json and README.md. */
const ALLOWED = /^(dist\/.+\.(js|d\.ts)|prebuilds\/[^/]+\/[^/]+\.node|native\/[^/]+\.(cc|h|md)|binding\.gyp|package\.json|README\.md)$/;
const ADDON_MISSING = 'native addon unavailable; using the pure-JS fallback';

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

function expectOk(outcome: Outcome): void {
  expect(outcome.code, outcome.output).toBe(0);
}

async function npm(args: string[], cwd: string, extraEnv: Record<string, string> = {}): Promise<Outcome> {
  return runBounded(NPM, args, { cwd, env: childEnv(extraEnv), timeoutMs: STEP_MS });
}

async function pack(stage: string, destination: string, args: string[] = []): Promise<{ tarball: string; result: PackResult }> {
  fs.mkdirSync(destination, { recursive: true });
  const outcome = await npm(['pack', '--json', '--pack-destination', destination, ...args], stage);
  expectOk(outcome);
  // --json output is the last thing on stdout; lifecycle scripts print before it.
  const result = (JSON.parse(outcome.stdout.slice(outcome.stdout.indexOf('\n[') + 1)) as PackResult[])[0]!;
  return { tarball: path.join(destination, result.filename), result };
}

/** An empty project with the tarball installed; returns the install's outcome. */
async function installInto(project: string, tarball: string, extraEnv: Record<string, string> = {}): Promise<Outcome> {
  fs.mkdirSync(project, { recursive: true });
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: path.basename(project), private: true }));
  return npm(['install', tarball, ...INSTALL_FLAGS], project, extraEnv);
}

/** `npx penstock info` in the project: its JSON, and how often it warned that the addon is missing. */
async function info(project: string, io: string): Promise<{ outcome: Outcome; info: Record<string, unknown> | undefined; warnings: number }> {
  const outcome = await runBounded('npx', ['--no', 'penstock', 'info'], { cwd: project, env: childEnv({ PENSTOCK_IO: io }), timeoutMs: 60_000 });
  const lines = jsonLines(outcome.stdout);
  return { outcome, info: lines.find((l) => 'version' in l && 'io' in l), warnings: lines.filter((l) => l.msg === ADDON_MISSING).length };
}

/** Starts the installed package's broker, has kcat produce one record and fetch it back, stops it. */
async function roundTrip(project: string, io: string, label: string): Promise<{ started: Record<string, unknown>; log: string }> {
  const cli = path.join(project, 'node_modules', 'penstock', 'dist', 'cli', 'main.js');
  const dataDir = fs.mkdtempSync(path.join(project, 'data-'));
  const broker = await startCliBroker(cli, { cwd: project, dataDir, env: childEnv({ PENSTOCK_IO: io }), timeoutMs: 30_000 });
  try {
    const bootstrap = `127.0.0.1:${broker.port}`;
    const record = `${label}\tone record through ${label}`;
    const kcat = (args: string[], input?: string) =>
      runBounded(KCAT, ['-b', bootstrap, ...args], { cwd: project, env: childEnv(), timeoutMs: 30_000, input });
    const produced = await kcat(['-P', '-t', 'pack-install', '-K', '\t', '-X', 'topic.request.required.acks=1'], `${record}\n`);
    expectOk(produced);
    const consumed = await kcat(['-C', '-t', 'pack-install', '-o', 'beginning', '-e', '-f', '%o %k\t%s\n']);
    expectOk(consumed);
    expect(consumed.stdout, consumed.output + broker.output()).toBe(`0 ${record}\n`);
  } finally {
    expect(await broker.stop(), broker.output()).toBe(0);
  }
  return { started: broker.started, log: broker.output() };
}

/** Every file under `dir`, relative to it. */
function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe(`npm pack → npm install of the tarball (broker on ${PROJECT_IO})`, () => {
  let tmp = '';
  let stage = '';
  let withPrebuild: { tarball: string; result: PackResult };
  let withoutPrebuild: { tarball: string; result: PackResult };

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'penstock-pack-'));
    // Inside the repository, module resolution from the installed package would walk up into the
    // repo's node_modules and find node-gyp and node-addon-api: the test would prove nothing.
    expect(path.relative(REPO, tmp).startsWith('..'), `temp dir ${tmp} must be outside ${REPO}`).toBe(true);

    stage = path.join(tmp, 'stage');
    fs.mkdirSync(stage);
    for (const entry of ['package.json', 'README.md', 'binding.gyp', 'tsconfig.json', 'tsconfig.build.json', 'src', 'native', 'scripts']) {
      fs.cpSync(path.join(REPO, entry), path.join(stage, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(stage, 'node_modules'), 'dir');

    const prebuild = await npm(['run', 'prebuild'], stage);
    expectOk(prebuild);
    expect(fs.existsSync(path.join(stage, 'prebuilds', PLATFORM_DIR, 'penstock.node')), prebuild.output).toBe(true);

    // The real `npm pack`: prepack prunes dist, prepare compiles it.
    withPrebuild = await pack(stage, path.join(tmp, 'with-prebuild'));
    // The same package for a platform without a prebuild.
    fs.rmSync(path.join(stage, 'prebuilds'), { recursive: true });
    withoutPrebuild = await pack(stage, path.join(tmp, 'without-prebuild'), ['--ignore-scripts']);
  }, 4 * STEP_MS);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('packs dist/, the prebuild, binding.gyp and native/ and nothing else', () => {
    const { result } = withPrebuild;
    const paths = result.files.map((f) => f.path);
    expect(paths.filter((p) => !ALLOWED.test(p))).toEqual([]);
    for (const needed of ['dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'binding.gyp', 'native/addon.cc', `prebuilds/${PLATFORM_DIR}/penstock.node`]) {
      expect(paths).toContain(needed);
    }
    // prepare compiled dist in the stage: every source has its module.
    const sources = listFiles(path.join(stage, 'src')).filter((f) => f.endsWith('.ts'));
    for (const source of sources) expect(paths).toContain(`dist/${source.replace(/\.ts$/, '.js')}`);
    expect(withoutPrebuild.result.files.some((f) => f.path.startsWith('prebuilds/'))).toBe(false);
    console.log(`pack-install: ${result.filename} ${result.size} B packed, ${result.unpackedSize} B unpacked, ${paths.length} files`);
  });

  it('installs with the prebuild, compiles nothing, and a broker from the install round-trips a record', async () => {
    const project = path.join(tmp, 'app-prebuilt');
    const install = await installInto(project, withPrebuild.tarball);
    expectOk(install);
    // The install script ran, found the prebuild loadable and so never started node-gyp.
    expect(install.output).toContain('node-gyp-build || exit 0');
    expect(install.output).not.toMatch(/gyp info|CXX\(target\)/);
    const installed = path.join(project, 'node_modules', 'penstock');
    expect(fs.existsSync(path.join(installed, 'build')), install.output).toBe(false);
    expect(fs.existsSync(path.join(installed, 'node_modules', 'node-addon-api')) || fs.existsSync(path.join(project, 'node_modules', 'node-addon-api'))).toBe(true);

    const auto = await info(project, 'auto');
    expectOk(auto.outcome);
    expect(auto.info, auto.outcome.output).toMatchObject({
      io: 'native',
      addon: path.join(installed, 'prebuilds', PLATFORM_DIR, 'penstock.node'),
      fallbackReason: null,
    });
    expect(auto.warnings).toBe(0);

    const { started } = await roundTrip(project, PROJECT_IO, 'prebuilt');
    expect(started.io).toBe(PROJECT_IO === 'fallback' ? 'fallback' : 'native');
    // Still nothing compiled after running.
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
  }, 3 * STEP_MS);

  it('without a prebuild and with no working compiler, installs anyway and runs on the fallback, saying why once', async () => {
    const project = path.join(tmp, 'app-no-compiler');
    const install = await installInto(project, withoutPrebuild.tarball, { CC: '/bin/false', CXX: '/bin/false' });
    // node-gyp-build found no prebuild, tried to compile, the compiler failed, `|| exit 0` kept it green.
    expectOk(install);
    expect(install.output).toContain('node-gyp-build || exit 0');
    expect(install.output).toMatch(/CXX\(target\) Release\/obj\.target\/penstock\/native\//);
    expect(install.output).toMatch(/gyp ERR! not ok/);
    const installed = path.join(project, 'node_modules', 'penstock');
    expect(listFiles(installed).filter((f) => f.endsWith('.node'))).toEqual([]);

    const auto = await info(project, 'auto');
    expectOk(auto.outcome);
    expect(auto.info, auto.outcome.output).toMatchObject({ io: 'fallback', addon: null });
    expect(String(auto.info?.fallbackReason)).toMatch(/No native build was found for platform=/);
    expect(auto.warnings, auto.outcome.output).toBe(1);

    // Forcing native fails loudly, with the reason.
    const forced = await info(project, 'native');
    expect(forced.outcome.code, forced.outcome.output).toBe(1);
    expect(forced.outcome.stderr).toMatch(/PENSTOCK_IO=native but the native addon did not load: No native build was found/);

    const { started, log } = await roundTrip(project, 'auto', 'fallback');
    expect(started.io).toBe('fallback');
    const warnings = jsonLines(log).filter((l) => l.msg === ADDON_MISSING);
    expect(warnings, log).toHaveLength(1);
    expect(String(warnings[0]!.reason)).toMatch(/No native build was found/);

    // Once a compiler is there, `npm rebuild` compiles the addon in place and native loads from build/.
    const rebuild = await npm(['rebuild', 'penstock', '--foreground-scripts'], project);
    expectOk(rebuild);
    expect(rebuild.output).toMatch(/CXX\(target\)/);
    const after = await info(project, 'native');
    expectOk(after.outcome);
    expect(after.info, after.outcome.output).toMatchObject({ io: 'native', addon: path.join(installed, 'build', 'Release', 'penstock.node') });
  }, 4 * STEP_MS);
});
