import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultIo } from '../../src/io/select.js';
import type { IoError } from '../../src/io/types.js';
import { patternBytes, tempDir } from './helpers.js';

function thrown(fn: () => unknown): IoError {
  try {
    fn();
  } catch (err) {
    return err as IoError;
  }
  throw new Error('expected a throw');
}

describe('appendv / pread / datasync', () => {
  const io = defaultIo();
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it(`${io.kind}: appends thousands of buffers (over IOV_MAX, some empty) in order`, () => {
    const file = path.join(tmp.dir, 'many.log');
    const source = patternBytes(3_000_000, 3);
    const buffers: Buffer[] = [];
    for (let off = 0, i = 0; off < source.length; i++) {
      const size = i % 97 === 0 ? 0 : Math.min(source.length - off, 1 + ((i * 7919) % 2500));
      buffers.push(source.subarray(off, off + size));
      off += size;
    }
    expect(buffers.length).toBeGreaterThan(2048);
    const fd = io.openAppend(file);
    try {
      fs.writeSync(fd, 'HEAD');
      expect(io.appendv(fd, buffers)).toBe(source.length);
      expect(io.appendv(fd, [])).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
    const content = fs.readFileSync(file);
    expect(content.length).toBe(4 + source.length);
    expect(content.subarray(0, 4).toString()).toBe('HEAD');
    expect(content.subarray(4).equals(source)).toBe(true);
  });

  it(`${io.kind}: two appenders interleave without overwriting (O_APPEND)`, () => {
    const file = path.join(tmp.dir, 'shared.log');
    const a = io.openAppend(file);
    const b = io.openAppend(file);
    const expected: Buffer[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        const fromA = Buffer.from(`a${i}:`.padEnd(10 + (i % 5), 'A'));
        const fromB = Buffer.from(`b${i}:`.padEnd(7 + (i % 3), 'B'));
        io.appendv(a, [fromA]);
        io.appendv(b, [fromB, Buffer.alloc(0)]);
        expected.push(fromA, fromB);
      }
    } finally {
      fs.closeSync(a);
      fs.closeSync(b);
    }
    expect(fs.readFileSync(file).equals(Buffer.concat(expected))).toBe(true);
    expect((fs.statSync(file).mode & 0o777) & ~0o022).toBe(0o644 & ~0o022);
  });

  it(`${io.kind}: pread reads back byte-exact, short at end of file`, () => {
    const file = path.join(tmp.dir, 'read.log');
    const source = patternBytes(1_000_003, 5);
    fs.writeFileSync(file, source);
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(70_000);
      for (const [position, length, offset] of [[0, 1, 0], [12_345, 65_536, 7], [999_000, 4000, 100], [1, 0, 0]] as const) {
        const n = io.pread(fd, buf, offset, length, position);
        expect(n).toBe(Math.min(length, source.length - position));
        expect(buf.subarray(offset, offset + n).equals(source.subarray(position, position + n))).toBe(true);
      }
      expect(io.pread(fd, buf, 0, 100, source.length)).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it(`${io.kind}: datasync resolves`, async () => {
    const fd = io.openAppend(path.join(tmp.dir, 'sync.log'));
    try {
      io.appendv(fd, [Buffer.from('durable')]);
      await expect(io.datasync(fd)).resolves.toBeUndefined();
    } finally {
      fs.closeSync(fd);
    }
  });

  it(`${io.kind}: errors carry Node's code and syscall`, async () => {
    const fd = fs.openSync(path.join(tmp.dir, 'closed.log'), 'w');
    fs.closeSync(fd);
    expect(thrown(() => io.appendv(fd, [Buffer.from('x')])).code).toBe('EBADF');
    expect(thrown(() => io.pread(fd, Buffer.alloc(1), 0, 1, 0)).code).toBe('EBADF');
    await expect(io.datasync(fd)).rejects.toMatchObject({ code: 'EBADF' });

    const missing = thrown(() => io.openAppend(path.join(tmp.dir, 'no', 'such', 'dir.log')));
    expect(missing).toMatchObject({ code: 'ENOENT', syscall: 'open' });
    expect(typeof missing.errno).toBe('number');
    expect(thrown(() => io.openAppend(tmp.dir)).code).toBe('EISDIR');

    const readOnly = fs.openSync(path.join(tmp.dir, 'closed.log'), 'r');
    try {
      expect(thrown(() => io.appendv(readOnly, [Buffer.from('x')])).code).toBe('EBADF');
    } finally {
      fs.closeSync(readOnly);
    }
  });
});
