import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon, verifyBinding } from '../../src/io/native.js';
import { tempDir } from './helpers.js';

// Loads the build directly (never through selectIo's auto mode), so a broken build fails here.
describe('native addon', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('loads from build/ and exports every function', () => {
    const { binding, path } = loadAddon();
    expect(path).toMatch(/\.node$/);
    for (const name of ['crc32c', 'openAppend', 'appendv', 'datasync', 'pread', 'sendParts', 'spliceFileToSocket', 'spliceToFile', 'cancelSend', 'stats']) {
      expect(typeof (binding as unknown as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(binding.version).toBe(1);
  });

  it('reports its features', () => {
    const { features } = loadAddon().binding;
    expect(['sse4.2', 'armv8', 'table']).toContain(features.crc32c);
    if (process.arch === 'x64') expect(features.crc32c).toBe('sse4.2');
    if (process.platform === 'linux') {
      expect(features).toMatchObject({ sendfile: true, splice: true, files: true });
    }
    expect(Object.isFrozen(features)).toBe(true);
  });

  it('computes the CRC-32C check value', () => {
    expect(loadAddon().binding.crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('names what an incomplete binding lacks', () => {
    expect(() => verifyBinding({ crc32c() {}, features: {}, version: 1 }, 'x.node')).toThrow(/x\.node lacks openAppend, appendv, datasync/);
    expect(() => verifyBinding({ features: {} }, 'x.node')).toThrow(/crc32c/);
  });

  it('refuses a build of another binding version', () => {
    const { binding } = loadAddon();
    expect(() => verifyBinding({ ...binding, version: 0 }, 'old.node')).toThrow(/binding version 0/);
  });

  it('says where it looked when there is no build', () => {
    expect(() => loadAddon({ root: tmp.dir })).toThrow(/No native build was found/);
  });

  it('rejects bad arguments with TypeError/RangeError instead of crashing', () => {
    const { binding } = loadAddon();
    const b = binding as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => b.crc32c!('not a buffer')).toThrow(TypeError);
    expect(() => b.crc32c!(new Uint16Array(4))).toThrow(TypeError);
    expect(() => b.crc32c!(Buffer.alloc(4), 1.5)).toThrow(RangeError);
    expect(() => b.appendv!(-1, [])).toThrow(TypeError);
    expect(() => b.appendv!(1, [Buffer.alloc(1), 'x'])).toThrow(/buffers\[1\]/);
    expect(() => b.pread!(0, Buffer.alloc(4), 2, 4, 0)).toThrow(RangeError);
    expect(() => b.sendParts!(0, [{ fd: 1, position: -1, length: 1 }], () => {})).toThrow(/parts\[0\]/);
    expect(() => b.sendParts!(0, [], 'nope')).toThrow(TypeError);
    expect(b.cancelSend!(123456)).toBe(false);
  });
});
