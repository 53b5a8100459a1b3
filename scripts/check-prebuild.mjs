#!/usr/bin/env node
// Checks the prebuild this machine would load: `node scripts/check-prebuild.mjs [--libc glibc|musl]`.
// Loads it the way an installed package does (node-gyp-build, prebuilds/ only, never build/), then
// checks what penstock relies on: the binding version, CRC-32C on the check vector, and the
// features each platform must report, since src/io/native.ts chooses its paths from them (Windows:
// no file calls and no sendfile, so the copy path serves every send). Used by the release workflow on
// every platform it builds for; prints the file and its features.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BINDING_VERSION = 1;
process.env.PREBUILDS_ONLY = '1'; // read by node-gyp-build when it is first loaded, below

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build');

const libcIndex = process.argv.indexOf('--libc');
const libc = libcIndex >= 0 ? process.argv[libcIndex + 1] : undefined;

function fail(message) {
  console.error(`check-prebuild: ${message}`);
  process.exit(1);
}

const file = nodeGypBuild.resolve(ROOT);
if (path.relative(path.join(ROOT, 'prebuilds'), file).startsWith('..')) fail(`${file} is not under prebuilds/`);
const expectedName = libc ? `penstock.${libc}.node` : 'penstock.node';
if (path.basename(file) !== expectedName) fail(`loaded ${path.basename(file)}, expected ${expectedName}`);
const binding = require(file);

if (binding.version !== BINDING_VERSION) fail(`binding version ${binding.version}, expected ${BINDING_VERSION}`);
const crc = binding.crc32c(Buffer.from('123456789'));
if (crc !== 0xe3069283) fail(`crc32c("123456789") = ${crc.toString(16)}, expected e3069283`);

const expected = {
  linux: { sendfile: true, splice: true, files: true },
  darwin: { sendfile: true, splice: false, files: true },
  win32: { sendfile: false, splice: false, files: false },
}[process.platform];
if (!expected) fail(`no expectations for platform ${process.platform}`);
for (const [feature, value] of Object.entries(expected)) {
  if (binding.features[feature] !== value) fail(`features.${feature} is ${binding.features[feature]}, expected ${value} on ${process.platform}`);
}
const crcImpl = { x64: 'sse4.2', arm64: 'armv8' }[process.arch];
if (crcImpl && binding.features.crc32c !== crcImpl) fail(`features.crc32c is ${binding.features.crc32c}, expected ${crcImpl} on ${process.arch}`);

const size = fs.statSync(file).size;
console.log(`check-prebuild: ${path.relative(ROOT, file)} (${size} B) loads; features ${JSON.stringify(binding.features)}`);
