import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/io/native.js';
import { defaultIo } from '../../src/io/select.js';
import { isFileRegion, type IoError, type SendPart } from '../../src/io/types.js';
import {
  isNativeProject,
  loopbackPair,
  patternBytes,
  readRange,
  receiveAll,
  sha256,
  sha256OfFileRange,
  tempDir,
  waitFor,
  writePatternFile,
} from './helpers.js';

const MiB = 1 << 20;
const PEER_GONE = ['EPIPE', 'ECONNRESET'];

/** The bytes the receiver must see for `parts`. */
function expectedBytes(file: string, parts: readonly SendPart[]): Buffer {
  return Buffer.concat(parts.map((p) => (isFileRegion(p) ? readRange(file, p.position, p.length) : p)));
}

function regionBytes(parts: readonly SendPart[]): number {
  return parts.reduce((sum, p) => sum + (isFileRegion(p) ? p.length : 0), 0);
}

describe('sendParts over loopback', () => {
  const io = defaultIo();
  const stats = (): ReturnType<ReturnType<typeof loadAddon>['binding']['stats']> => loadAddon().binding.stats();
  const tmp = tempDir();
  const small = path.join(tmp.dir, 'small.log');
  const large = path.join(tmp.dir, 'large.log');
  let smallFd = -1;
  let largeFd = -1;

  beforeAll(() => {
    writePatternFile(small, 3 * MiB + 17, 11);
    writePatternFile(large, 64 * MiB, 13);
    smallFd = fs.openSync(small, 'r');
    largeFd = fs.openSync(large, 'r');
  });
  afterAll(() => {
    fs.closeSync(smallFd);
    fs.closeSync(largeFd);
    tmp.remove();
  });

  it(`${io.kind}: an ordered mix of buffers and regions arrives byte-exact, after earlier writes`, async () => {
    const pair = await loopbackPair();
    try {
      const received = receiveAll(pair.receiver, { keep: true });
      const sends: SendPart[][] = [
        [Buffer.from('header-1'), { fd: smallFd, position: 3, length: 1000 }, Buffer.alloc(0), { fd: smallFd, position: 5, length: 0 }],
        [{ fd: smallFd, position: 777_777, length: 12_345 }, Buffer.from('x'), { fd: smallFd, position: 1, length: 1 }],
        [Buffer.from('only a buffer')],
        [],
        // Larger than the inline limit, so it goes through the threadpool bursts.
        [Buffer.alloc(100_000, 0x61), { fd: smallFd, position: 99, length: 2 * MiB + 3 }, Buffer.from('tail')],
      ];
      const expected: Buffer[] = [];
      const inlineBefore = isNativeProject ? stats().inlineSends : 0;
      for (const [i, parts] of sends.entries()) {
        // Not awaited: the barrier must hold these bytes ahead of the parts. The large one cannot
        // reach the kernel at once, so it is still queued in Node when sendParts is called.
        const pre = i === 1 ? Buffer.concat([Buffer.from('pre-1|'), patternBytes(8 * MiB, 5)]) : Buffer.from(`pre-${i}|`);
        pair.sender.write(pre);
        const result = await io.sendParts(pair.sender, parts);
        const bytes = expectedBytes(small, parts);
        expected.push(pre, bytes);
        expect(result.bytes).toBe(bytes.length);
        expect(result.zeroCopyBytes).toBe(io.kind === 'native' ? regionBytes(parts) : 0);
      }
      // The small sends went out on the JS thread, without a threadpool hop.
      if (io.kind === 'native') expect(stats().inlineSends).toBeGreaterThan(inlineBefore);
      pair.sender.write('after');
      expected.push(Buffer.from('after'));
      pair.sender.end();
      const got = await received;
      expect(got.length).toBe(Buffer.concat(expected).length);
      expect(got.bytes!.equals(Buffer.concat(expected))).toBe(true);
    } finally {
      await pair.close();
    }
  });

  it(`${io.kind}: a 32 MiB region to a slow reader (back-pressure) arrives byte-exact`, async () => {
    const pair = await loopbackPair();
    const pollsBefore = isNativeProject ? stats().polls : 0;
    try {
      const received = receiveAll(pair.receiver, { slow: true });
      const parts: SendPart[] = [Buffer.from('H'), { fd: largeFd, position: 4097, length: 32 * MiB }, Buffer.from('T')];
      const result = await io.sendParts(pair.sender, parts);
      pair.sender.end();
      const got = await received;
      expect(result.bytes).toBe(32 * MiB + 2);
      expect(got.length).toBe(32 * MiB + 2);
      expect(got.sha256).toBe(sha256(Buffer.from('H'), readRange(large, 4097, 32 * MiB), Buffer.from('T')));
      if (io.kind === 'native') {
        expect(result.zeroCopyBytes).toBe(32 * MiB);
        // The reader really fell behind: the send waited for writability at least once.
        expect(stats().polls).toBeGreaterThan(pollsBefore);
      }
    } finally {
      await pair.close();
    }
  });

  it(`${io.kind}: a region past the end of its file fails with ERANGE instead of looping`, async () => {
    const pair = await loopbackPair();
    try {
      const size = fs.statSync(small).size;
      const err = (await io.sendParts(pair.sender, [{ fd: smallFd, position: size - 10, length: 100 }]).catch((e: unknown) => e)) as IoError;
      expect(err.code).toBe('ERANGE');
      expect(err.bytesSent).toBe(10);
    } finally {
      await pair.close();
    }
  });

  it(`${io.kind}: a peer reset mid-send rejects with EPIPE/ECONNRESET and the bytes sent`, async () => {
    const pair = await loopbackPair();
    try {
      let seen = 0;
      pair.receiver.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen >= MiB && !pair.receiver.destroyed) pair.receiver.resetAndDestroy();
      });
      const err = (await io.sendParts(pair.sender, [{ fd: largeFd, position: 0, length: 64 * MiB }]).then(
        () => new Error('send unexpectedly completed'),
        (e: unknown) => e,
      )) as IoError;
      expect(PEER_GONE).toContain(err.code);
      expect(typeof err.bytesSent).toBe('number');
      expect(err.bytesSent).toBeGreaterThan(0);
      expect(err.bytesSent).toBeLessThan(64 * MiB);
      if (io.kind === 'native') {
        expect(typeof err.errno).toBe('number');
        // The send's own call, or Node's read when that noticed the reset first.
        expect(['sendfile', 'writev', 'poll', 'read', 'write']).toContain(err.syscall);
      }
    } finally {
      await pair.close();
    }
  });

  it(`${io.kind}: four stalled readers hold no threadpool thread, and closing cancels their sends`, async () => {
    const pairs = await Promise.all([0, 1, 2, 3].map(() => loopbackPair()));
    try {
      for (const p of pairs) p.receiver.pause();
      const pollsBefore = isNativeProject ? stats().polls : 0;
      const outcomes = pairs.map((p) =>
        io.sendParts(p.sender, [Buffer.from('hdr'), { fd: largeFd, position: 0, length: 64 * MiB }]).then(
          () => null,
          (e: unknown) => e as IoError,
        ),
      );
      if (isNativeProject) {
        expect(await waitFor(() => stats().activeTransfers === 4)).toBe(true);
        expect(await waitFor(() => stats().polls >= pollsBefore + 4)).toBe(true);
      } else {
        await new Promise((r) => setTimeout(r, 50));
      }
      // Every sender is stuck on a full window; a threadpool job must still get a thread.
      const text = await fs.promises.readFile(small);
      expect(text.length).toBe(3 * MiB + 17);

      for (const p of pairs) p.sender.destroy();
      const errors = await Promise.all(outcomes);
      for (const err of errors) {
        expect(err).not.toBeNull();
        expect(['ECANCELED', ...PEER_GONE]).toContain(err!.code);
        expect(err!.bytesSent).toBeGreaterThan(0);
      }
      if (isNativeProject) {
        // Poll handles closed and the dup'ed fds released.
        expect(await waitFor(() => stats().activeTransfers === 0)).toBe(true);
      }
    } finally {
      await Promise.all(pairs.map((p) => p.close()));
    }
  });

  it(`${io.kind}: a send on an already destroyed socket rejects`, async () => {
    const pair = await loopbackPair();
    pair.sender.destroy();
    await expect(io.sendParts(pair.sender, [Buffer.from('x')])).rejects.toMatchObject({ code: 'EPIPE' });
    await pair.close();
  });

  it(`${io.kind}: the peer receives EOF once the sender is destroyed after a send`, async () => {
    const pair = await loopbackPair();
    try {
      const received = receiveAll(pair.receiver);
      await io.sendParts(pair.sender, [{ fd: smallFd, position: 0, length: 3 * MiB }]);
      pair.sender.destroy();
      const got = await received;
      expect(got.sha256).toBe(sha256OfFileRange(small, 0, 3 * MiB));
    } finally {
      await pair.close();
    }
  });
});
