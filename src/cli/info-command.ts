import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ioStatus } from '../io/select.js';

/** The package's version, read from its package.json (two levels above src/cli and dist/cli). */
export function packageVersion(): string {
  const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** `penstock info`: one JSON object describing this installation. */
export async function runInfo(argv: string[]): Promise<number> {
  if (argv.includes('--version')) {
    console.log(packageVersion());
    return 0;
  }
  if (argv.includes('--help')) {
    console.log('usage: penstock info\n\nPrints one JSON object: version, io (native|fallback), addon (path or null), fallbackReason, node, platform, arch.');
    return 0;
  }
  const { io, fallbackReason } = ioStatus();
  console.log(
    JSON.stringify({
      version: packageVersion(),
      io: io.kind,
      addon: io.addonPath,
      fallbackReason,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
    }),
  );
  return 0;
}
