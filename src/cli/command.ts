/**
 * What every `penstock` command shares: exit codes, usage errors, the error → exit code mapping,
 * aligned tables for people, and a stdout writer that respects back-pressure and a closed pipe.
 */

/** Exit codes scripts can rely on. */
export const EXIT_OK = 0;
/** Runtime failure: broker unreachable, a request the broker refused, an I/O error. */
export const EXIT_FAILURE = 1;
/** The command line is wrong: unknown flag, bad value, missing argument, invalid setting. */
export const EXIT_USAGE = 2;

/** The paragraph every command's --help ends with. */
export const EXIT_CODES_HELP = `exit codes:
  0  success
  1  runtime error: broker unreachable, the broker refused the request (unknown topic, ...), I/O error
  2  usage error: unknown flag, bad value, missing argument`;

/** The command line is wrong; exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Runs `parse` (util.parseArgs) and turns its complaints about the command line into UsageErrors. */
export function parseUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((err as Error).message);
    throw err;
  }
}

/**
 * Runs a command body, mapping what it throws to an exit code and one line on stderr:
 * UsageError → 2 (with a pointer to --help), anything else → 1.
 */
export async function runCommand(name: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`penstock ${name}: ${err.message}\nRun 'penstock ${name} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`penstock ${name}: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT_FAILURE;
  }
}

/** A non-negative (or `min`..`max`) integer flag value, or a UsageError naming the flag. */
export function intFlag(flag: string, value: string, { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {}): number {
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`${flag} takes an integer, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** `key=value` items (repeatable flags such as `--config`) into an object; a missing `=` is a UsageError. */
export function keyValueFlags(flag: string, items: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} takes key=value, got "${item}"`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return out;
}

/** Exactly `count` positional arguments (named in `what` for the message). */
export function expectPositionals(positionals: readonly string[], what: readonly string[], { optional = 0 } = {}): string[] {
  const required = what.length - optional;
  if (positionals.length < required) throw new UsageError(`missing ${what.slice(positionals.length, required).join(' ')}`);
  if (positionals.length > what.length) throw new UsageError(`unexpected argument "${positionals[what.length]}"`);
  return [...positionals];
}

/** Rows as aligned columns (two spaces apart, the last column unpadded), header first. */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  return cells
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

/** Thrown by StdoutWriter once stdout's reader has gone (EPIPE): time to stop, not an error. */
export class OutputClosed extends Error {
  constructor() {
    super('stdout was closed');
    this.name = 'OutputClosed';
  }
}

/**
 * Writes to stdout and waits for 'drain' when the pipe is full, so a slow reader slows the producer of
 * output rather than growing memory. After EPIPE (`| head`) every write throws OutputClosed.
 */
export class StdoutWriter {
  private closed = false;
  private waiting: { resolve(): void; reject(err: Error): void } | null = null;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.closed = true;
      this.waiting?.reject(err.code === 'EPIPE' ? new OutputClosed() : err);
      this.waiting = null;
    });
    stream.on('drain', () => {
      this.waiting?.resolve();
      this.waiting = null;
    });
  }

  async write(chunk: string | Buffer): Promise<void> {
    if (this.closed) throw new OutputClosed();
    if (this.stream.write(chunk)) return;
    await new Promise<void>((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }
}

/** Prints one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
