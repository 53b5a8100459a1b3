/**
 * A private build of `src/` for child-process brokers, so they run the code under test even when
 * `dist/` is stale. Keyed by a hash of the sources: every test file (and both projects) reuses one
 * build per source state; a lock directory keeps concurrent workers from building twice.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../helpers/process.js';

export const REPO = path.resolve(import.meta.dirname, '../../..');

function hashSources(): string {
  const hash = crypto.createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        hash.update(path.relative(REPO, full));
        hash.update(fs.readFileSync(full));
      }
    }
  };
  walk(path.join(REPO, 'src'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json']) hash.update(fs.readFileSync(path.join(REPO, f)));
  return hash.digest('hex').slice(0, 16);
}

/** Builds of other source states, unused for an hour, are removed so /tmp does not fill up with them. */
function removeStaleBuilds(keep: string): void {
  const dir = path.dirname(keep);
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith('penstock-reliability-build-') || name.endsWith('.lock') || path.join(dir, name) === keep) continue;
    try {
      if (Date.now() - fs.statSync(path.join(dir, name)).mtimeMs > 3_600_000) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    } catch {
      /* someone else removed it */
    }
  }
}

let built: Promise<string> | undefined;

/** Builds (or finds) the private build; resolves with its root, which holds `dist/`. */
export function privateBuild(): Promise<string> {
  built ??= buildOnce();
  return built;
}

async function buildOnce(): Promise<string> {
  const root = path.join(os.tmpdir(), `penstock-reliability-build-${hashSources()}`);
  const done = path.join(root, '.done');
  const lock = `${root}.lock`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (fs.existsSync(done)) return root;
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // Someone else builds; a lock older than three minutes belongs to a dead worker.
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 180_000) fs.rmSync(lock, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build at ${root}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (fs.existsSync(done)) return root;
    fs.rmSync(root, { recursive: true, force: true });
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), '{"type":"module"}\n');
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'), 'dir');
    // The addon is found relative to the package root, as from dist/.
    if (fs.existsSync(path.join(REPO, 'build'))) fs.symlinkSync(path.join(REPO, 'build'), path.join(root, 'build'), 'dir');
    const tsc = await run(
      process.execPath,
      [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', path.join(REPO, 'tsconfig.build.json'), '--outDir', path.join(root, 'dist'), '--declaration', 'false', '--sourceMap', 'false'],
      { timeoutMs: 150_000 },
    );
    // tsc emits even when someone else's file has a type error right now; what matters is the output.
    if (!fs.existsSync(path.join(root, 'dist/cli/main.js'))) throw new Error(`build failed: ${tsc.stdout.toString()}${tsc.stderr}`);
    fs.writeFileSync(done, new Date().toISOString());
    removeStaleBuilds(root);
    return root;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
