/** Direct reads of a partition directory's files, for tests that damage them like a power cut would. */
import fs from 'node:fs';
import path from 'node:path';
import { crc32cJs } from '../../../src/io/crc32c.js';

export interface FileBatch {
  position: number;
  size: number;
  baseOffset: number;
  lastOffset: number;
}

export interface SegmentFiles {
  baseOffset: number;
  log: string;
  index: string;
  timeindex: string;
}

/** The partition's segments, oldest first. */
export function listSegments(partitionDir: string): SegmentFiles[] {
  return fs
    .readdirSync(partitionDir)
    .filter((n) => /^\d{20}\.log$/.test(n))
    .sort()
    .map((n) => {
      const stem = path.join(partitionDir, n.slice(0, -4));
      return { baseOffset: Number(n.slice(0, 20)), log: `${stem}.log`, index: `${stem}.index`, timeindex: `${stem}.timeindex` };
    });
}

function int64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 4294967296 + buf.readUInt32BE(at + 4);
}

/**
 * The whole, CRC-valid batches at the start of a segment file, with offsets increasing, and the
 * position where they stop (the file size when the file is nothing but such batches).
 */
export function scanSegment(file: string): { batches: FileBatch[]; validBytes: number; fileSize: number } {
  const data = fs.readFileSync(file);
  const batches: FileBatch[] = [];
  let pos = 0;
  let next = -1;
  while (data.length - pos >= 61) {
    const size = 12 + data.readInt32BE(pos + 8);
    if (size < 61 || pos + size > data.length || data.readInt8(pos + 16) !== 2) break;
    if (crc32cJs(data, pos + 21, pos + size) !== data.readUInt32BE(pos + 17)) break;
    const baseOffset = int64(data, pos);
    const lastOffset = baseOffset + data.readInt32BE(pos + 23);
    if (baseOffset < next) break;
    batches.push({ position: pos, size, baseOffset, lastOffset });
    next = lastOffset + 1;
    pos += size;
  }
  return { batches, validBytes: pos, fileSize: data.length };
}

/** The offset index's entries; throws if the file is not whole 8-byte entries. */
export function readOffsetIndex(file: string): { offset: number; position: number }[] {
  const data = fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0);
  if (data.length % 8 !== 0) throw new Error(`${file} is ${data.length} bytes, not whole entries`);
  const base = Number(path.basename(file).slice(0, 20));
  const out: { offset: number; position: number }[] = [];
  for (let at = 0; at < data.length; at += 8) out.push({ offset: base + data.readInt32BE(at), position: data.readInt32BE(at + 4) });
  return out;
}
