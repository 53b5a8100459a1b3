import { log } from '../logger.js';
import { createFallbackIo } from './fallback.js';
import { loadNativeIo } from './native.js';
import type { Io } from './types.js';

export type IoMode = 'native' | 'fallback' | 'auto';

export interface IoStatus {
  io: Io;
  /** Why the fallback is in use, when `auto` could not load the addon; null otherwise. */
  fallbackReason: string | null;
}

/**
 * Chooses the I/O backend: `native` must load the addon (or throw), `fallback` never tries,
 * `auto` tries the addon and falls back with one log line saying why.
 * `loadNative` is how the addon is loaded; tests pass one that fails.
 */
export function selectIo(mode: string = process.env.PENSTOCK_IO ?? 'auto', loadNative: () => Io = loadNativeIo): IoStatus {
  if (mode !== 'native' && mode !== 'fallback' && mode !== 'auto') {
    throw new Error(`PENSTOCK_IO must be native, fallback or auto, not "${mode}"`);
  }
  if (mode === 'fallback') return { io: createFallbackIo(), fallbackReason: null };
  try {
    return { io: loadNative(), fallbackReason: null };
  } catch (err) {
    const reason = (err as Error).message;
    if (mode === 'native') throw new Error(`PENSTOCK_IO=native but the native addon did not load: ${reason}`, { cause: err });
    log.warn({ reason }, 'native addon unavailable; using the pure-JS fallback');
    return { io: createFallbackIo(), fallbackReason: reason };
  }
}

let current: IoStatus | undefined;

/** The process's backend, chosen once from PENSTOCK_IO. */
export function ioStatus(): IoStatus {
  current ??= selectIo();
  return current;
}

export function defaultIo(): Io {
  return ioStatus().io;
}
