#!/usr/bin/env node
// `prepack`: deletes compiled files in dist/ whose source in src/ is gone, so a tarball never ships a
// module that no longer exists (tsc overwrites what it compiles but never deletes). Files that still
// have a source are left alone, so a test run reading dist/ at the same moment is not disturbed;
// `prepare` then compiles everything afresh.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const SRC = path.join(ROOT, 'src');
const OUTPUT = /(\.d\.ts\.map|\.js\.map|\.d\.ts|\.js)$/;

/** Returns true when `dir` is empty afterwards. */
function prune(dir) {
  let empty = true;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (prune(file)) fs.rmdirSync(file);
      else empty = false;
      continue;
    }
    const rel = path.relative(DIST, file);
    if (OUTPUT.test(rel) && !fs.existsSync(path.join(SRC, rel.replace(OUTPUT, '.ts')))) {
      fs.unlinkSync(file);
      console.log(`prune-dist: removed ${path.join('dist', rel)} (no src/${rel.replace(OUTPUT, '.ts')})`);
    } else {
      empty = false;
    }
  }
  return empty;
}

if (fs.existsSync(DIST)) prune(DIST);
