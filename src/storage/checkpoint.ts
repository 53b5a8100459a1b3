/**
 * Kafka's offset checkpoint files (`recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`;
 * KAFKA-NOTES §1.9): text, `0\n<count>\n<topic> <partition> <offset>\n…`, replaced atomically.
 * Also the atomic file write every piece of broker metadata uses.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export const CHECKPOINT_VERSION = 0;

export interface OffsetCheckpointEntry {
  topic: string;
  partition: number;
  offset: number;
}

/** A checkpoint file that does not parse; callers fall back to recovering from scratch. */
export class CheckpointFormatError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`malformed checkpoint ${file}: ${reason}`);
    this.name = 'CheckpointFormatError';
  }
}

/** fsync of a directory, so a rename or a new file inside it survives a power cut. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `file` with `data` so that a crash leaves either the old or the new content: write
 * `<file>.tmp`, fsync it, rename over the file, fsync the directory.
 */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await fsp.open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
  await fsyncDirectory(path.dirname(file));
}

export function formatOffsetCheckpoint(entries: readonly OffsetCheckpointEntry[]): string {
  const lines = [String(CHECKPOINT_VERSION), String(entries.length)];
  for (const e of entries) lines.push(`${e.topic} ${e.partition} ${e.offset}`);
  return lines.join('\n') + '\n';
}

export function parseOffsetCheckpoint(text: string, file = '<checkpoint>'): OffsetCheckpointEntry[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length < 2) throw new CheckpointFormatError(file, 'missing version or count line');
  if (lines[0] !== String(CHECKPOINT_VERSION)) throw new CheckpointFormatError(file, `unsupported version "${lines[0]}"`);
  if (!/^\d+$/.test(lines[1]!)) throw new CheckpointFormatError(file, `bad entry count "${lines[1]}"`);
  const count = Number(lines[1]);
  if (lines.length - 2 !== count) throw new CheckpointFormatError(file, `expected ${count} entries, found ${lines.length - 2}`);
  const entries: OffsetCheckpointEntry[] = [];
  for (let i = 2; i < lines.length; i++) {
    const match = /^(\S+) (\d+) (-?\d+)$/.exec(lines[i]!);
    if (!match) throw new CheckpointFormatError(file, `line ${i + 1} is not "<topic> <partition> <offset>"`);
    const partition = Number(match[2]);
    const offset = Number(match[3]);
    if (!Number.isSafeInteger(partition) || !Number.isSafeInteger(offset)) throw new CheckpointFormatError(file, `line ${i + 1} has out-of-range numbers`);
    entries.push({ topic: match[1]!, partition, offset });
  }
  return entries;
}

export async function writeOffsetCheckpoint(file: string, entries: readonly OffsetCheckpointEntry[]): Promise<void> {
  await writeFileAtomic(file, formatOffsetCheckpoint(entries));
}

/** The entries of a checkpoint file, or null when it does not exist. Throws CheckpointFormatError. */
export function readOffsetCheckpoint(file: string): OffsetCheckpointEntry[] | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parseOffsetCheckpoint(text, file);
}

/** writeFileAtomic for startup paths that run before anything else is served. */
export function writeFileAtomicSync(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dirFd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}
