import { isFileRegion, type SendPart } from '../../src/io/types.js';

/** The bytes of in-memory send parts, concatenated; file regions are a test failure here. */
export function concatParts(parts: readonly SendPart[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      if (isFileRegion(p)) throw new Error('unexpected file region');
      return p;
    }),
  );
}

/** Parses hex written with spaces, newlines and `#` comments. */
export function hex(text: string): Buffer {
  const clean = text.replace(/#.*$/gm, '').replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new Error(`bad hex: ${clean}`);
  return Buffer.from(clean, 'hex');
}
