import { afterAll, describe, expect, it } from 'vitest';
import { loadNativeIo } from '../../src/io/native.js';
import { defaultIo, selectIo } from '../../src/io/select.js';
import { tempDir } from './helpers.js';

describe('selectIo', () => {
  const empty = tempDir();
  afterAll(() => empty.remove());

  it('fallback never loads the addon', () => {
    const status = selectIo('fallback', () => {
      throw new Error('must not be called');
    });
    expect(status.io.kind).toBe('fallback');
    expect(status.io.addonPath).toBeNull();
    expect(status.fallbackReason).toBeNull();
  });

  it('native loads the built addon', () => {
    const status = selectIo('native');
    expect(status.io.kind).toBe('native');
    expect(status.io.addonPath).toMatch(/\.node$/);
    expect(status.fallbackReason).toBeNull();
  });

  it('native throws, with the reason, when the addon is missing', () => {
    expect(() => selectIo('native', () => loadNativeIo({ root: empty.dir }))).toThrow(/PENSTOCK_IO=native .*No native build was found/s);
  });

  it('auto falls back and records why when the addon is missing', () => {
    const status = selectIo('auto', () => loadNativeIo({ root: empty.dir }));
    expect(status.io.kind).toBe('fallback');
    expect(status.fallbackReason).toMatch(/No native build was found/);
  });

  it('auto picks native when it loads', () => {
    expect(selectIo('auto').io.kind).toBe('native');
  });

  it('refuses an unknown mode', () => {
    expect(() => selectIo('turbo')).toThrow(/native, fallback or auto/);
  });

  it('defaultIo follows PENSTOCK_IO of this test project', () => {
    expect(defaultIo().kind).toBe(process.env.PENSTOCK_IO);
  });
});
