import type { Io } from './types.js';

/** Loads the native addon as an Io. Throws, with the reason, when it cannot be loaded or is incomplete. */
export function loadNativeIo(): Io {
  throw new Error('native addon not built yet');
}
