import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon, sendNative } from '../../src/io/native.js';
import { socketFd } from '../../src/io/socket.js';
import type { IoError } from '../../src/io/types.js';
import { loopbackPair, patternBytes, readRange, receiveAll, sha256, tempDir, waitFor, writePatternFile } from './helpers.js';

const MiB = 1 << 20;

function thrown(fn: () => unknown): IoError {
  try {
    fn();
  } catch (err) {
    return err as IoError;
  }
  throw new Error('expected a throw');
}

describe.runIf(process.platform === 'linux')('splice (native addon, Linux)', () => {
  const { binding } = loadAddon();
  const tmp = tempDir();
  const source = path.join(tmp.dir, 'source.log');
  let sourceFd = -1;

  beforeAll(() => {
    writePatternFile(source, 6 * MiB + 5, 21);
    sourceFd = fs.openSync(source, 'r');
  });
  afterAll(() => {
    fs.closeSync(sourceFd);
    tmp.remove();
  });

  it('file → pipe → socket arrives byte-exact, all of it zero-copy', async () => {
    const pair = await loopbackPair();
    try {
      const received = receiveAll(pair.receiver, { slow: true });
      const fd = socketFd(pair.sender);
      for (const [position, length] of [[1, 100], [4099, 5 * MiB + 1]] as const) {
        const result = await sendNative(binding, pair.sender, (done) => binding.spliceFileToSocket(fd, sourceFd, position, length, done));
        expect(result).toEqual({ bytes: length, zeroCopyBytes: length });
      }
      pair.sender.end();
      const got = await received;
      expect(got.sha256).toBe(sha256(readRange(source, 1, 100), readRange(source, 4099, 5 * MiB + 1)));
    } finally {
      await pair.close();
    }
  });

  it('a region past the end of the file fails with ERANGE', async () => {
    const pair = await loopbackPair();
    try {
      const fd = socketFd(pair.sender);
      const size = fs.statSync(source).size;
      const err = await sendNative(binding, pair.sender, (done) => binding.spliceFileToSocket(fd, sourceFd, size - 3, 10, done)).catch((e: IoError) => e);
      expect(err).toMatchObject({ code: 'ERANGE', syscall: 'splice', bytesSent: 3 });
    } finally {
      await pair.close();
    }
  });

  it('pipe → file lands at the given offset', () => {
    const fifo = path.join(tmp.dir, 'in.fifo');
    execFileSync('mkfifo', [fifo]);
    // O_RDWR keeps a FIFO open without a separate writer, and never blocks on open.
    const pipeFd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const target = path.join(tmp.dir, 'target.log');
    fs.writeFileSync(target, Buffer.alloc(300, 0x2e));
    const fileFd = fs.openSync(target, 'r+');
    try {
      const data = patternBytes(40_000, 9);
      fs.writeSync(pipeFd, data);
      expect(binding.spliceToFile(pipeFd, fileFd, 100, 30_000)).toBe(30_000);
      expect(binding.spliceToFile(pipeFd, fileFd, 30_100, 50_000)).toBe(10_000);
      // Nothing left in the pipe, and it is still open: EAGAIN rather than end of input.
      expect(thrown(() => binding.spliceToFile(pipeFd, fileFd, 0, 10)).code).toBe('EAGAIN');
      const content = fs.readFileSync(target);
      expect(content.length).toBe(40_100);
      expect(content.subarray(0, 100).equals(Buffer.alloc(100, 0x2e))).toBe(true);
      expect(content.subarray(100).equals(data)).toBe(true);
    } finally {
      fs.closeSync(fileFd);
      fs.closeSync(pipeFd);
    }
  });

  it('socket → file moves what has arrived, until the end of input', async () => {
    const pair = await loopbackPair({ pauseOnConnect: true });
    const target = path.join(tmp.dir, 'from-socket.log');
    const fileFd = fs.openSync(target, 'w');
    try {
      const data = patternBytes(3 * MiB, 17);
      pair.receiver.end(data);
      const fd = socketFd(pair.sender);
      let moved = 0;
      let ended = false;
      expect(
        await waitFor(() => {
          try {
            const n = binding.spliceToFile(fd, fileFd, 7 + moved, 3 * MiB);
            if (n === 0) ended = true;
            moved += n;
          } catch (err) {
            if ((err as IoError).code !== 'EAGAIN') throw err;
          }
          return ended;
        }),
      ).toBe(true);
      expect(moved).toBe(data.length);
      expect(readRange(target, 7, data.length).equals(data)).toBe(true);
    } finally {
      fs.closeSync(fileFd);
      await pair.close();
    }
  });

  it('refuses an O_APPEND target (EINVAL), as the kernel does', () => {
    const fifo = path.join(tmp.dir, 'append.fifo');
    execFileSync('mkfifo', [fifo]);
    const pipeFd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const fileFd = binding.openAppend(path.join(tmp.dir, 'append.log'));
    try {
      fs.writeSync(pipeFd, Buffer.from('data'));
      expect(thrown(() => binding.spliceToFile(pipeFd, fileFd, 0, 4)).code).toBe('EINVAL');
    } finally {
      fs.closeSync(fileFd);
      fs.closeSync(pipeFd);
    }
  });
});
