/**
 * The five record-batch codecs, with the exact framings Kafka's clients write (KAFKA-NOTES §2.1, attributes
 * bits 0–2). compress/decompress are synchronous so the record codec stays synchronous.
 *
 * The broker never decompresses (it stores producers' bytes as they are); only the embedded API, the CLI
 * and the tests do. So the snappy, lz4 and zstd libraries load on first use, and a missing one breaks only
 * its own codec, with an UNSUPPORTED_COMPRESSION_TYPE error.
 *
 * Libraries: node:zlib (gzip); `snappy` and `lz4-napi` (napi-rs: binaries arrive as per-platform npm
 * packages, nothing is built or downloaded at install); zstd decodes with `fzstd` (pure JS) and encodes
 * with `@bokuweb/zstd-wasm` (libzstd in WASM), which must be instantiated once with
 * `await prepareCompression('zstd')`: the one asynchronous step, so compress/decompress stay synchronous.
 */
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import buffer from 'node:buffer';

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** Codec ids as stored in bits 0–2 of a batch's attributes. */
export const COMPRESSION_CODEC_IDS: Readonly<Record<Compression, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };
const CODECS_BY_ID: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
export const COMPRESSION_CODEC_MASK = 0x07;

export type CompressionErrorCode = 'UNSUPPORTED_COMPRESSION_TYPE' | 'CORRUPT_MESSAGE' | 'UNKNOWN_SERVER_ERROR';

/**
 * A codec failure, named with Kafka's error code: unknown or unavailable codec (UNSUPPORTED_COMPRESSION_TYPE),
 * bytes that don't decompress (CORRUPT_MESSAGE), or a library failing to compress (UNKNOWN_SERVER_ERROR).
 */
export class CompressionError extends Error {
  readonly code: CompressionErrorCode;
  readonly codec: string;
  constructor(code: CompressionErrorCode, codec: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CompressionError';
    this.code = code;
    this.codec = codec;
  }
}

export function compressionCodecId(codec: Compression): number {
  const id = Object.hasOwn(COMPRESSION_CODEC_IDS, codec) ? COMPRESSION_CODEC_IDS[codec] : undefined;
  if (id === undefined) throw unsupported(String(codec), `unknown compression type "${String(codec)}"`);
  return id;
}

/** The codec named by a batch's attributes; ids 5–7 are unassigned in Kafka. */
export function compressionFromAttributes(attributes: number): Compression {
  const id = attributes & COMPRESSION_CODEC_MASK;
  const codec = CODECS_BY_ID[id];
  if (codec === undefined) throw unsupported(`id ${id}`, `unknown compression codec id ${id} in batch attributes`);
  return codec;
}

export function compress(codec: Compression, input: Uint8Array): Buffer {
  switch (codec) {
    case 'none':
      return asBuffer(input);
    case 'gzip':
      return zlib.gzipSync(input);
    case 'snappy':
      return snappyXerialCompress(input);
    case 'lz4':
      return guard('lz4', 'compress', () => lz4Lib().compressFrameSync(asBuffer(input)));
    case 'zstd':
      return zstdCompress(input);
    default:
      throw unsupported(String(codec), `unknown compression type "${String(codec)}"`);
  }
}

/**
 * Decompresses a batch's records section. `maxOutputBytes` bounds the result: zlib stops at it while
 * inflating; the other libraries decompress whole, so for them it is checked on the result.
 */
export function decompress(codec: Compression, input: Uint8Array, maxOutputBytes = Number.MAX_SAFE_INTEGER): Buffer {
  let out: Buffer;
  switch (codec) {
    case 'none':
      out = asBuffer(input);
      break;
    case 'gzip':
      out = guard('gzip', 'decompress', () => zlib.gunzipSync(input, { maxOutputLength: Math.min(maxOutputBytes, buffer.kMaxLength) }));
      break;
    case 'snappy':
      out = snappyDecompress(input);
      break;
    case 'lz4':
      out = lz4Decompress(input);
      break;
    case 'zstd':
      out = zstdDecompress(input);
      break;
    default:
      throw unsupported(String(codec), `unknown compression type "${String(codec)}"`);
  }
  if (out.length > maxOutputBytes) throw corrupt(codec, `decompresses to more than ${maxOutputBytes} bytes`);
  return out;
}

/**
 * Whether `compress(codec, …)` works now: its library loads (and, for zstd, `prepareCompression('zstd')`
 * has finished). Decompression needs no preparation.
 */
export function isCompressionAvailable(codec: Compression): boolean {
  try {
    if (codec === 'snappy') snappyLib();
    else if (codec === 'lz4') lz4Lib();
    else if (codec === 'zstd') return zstdWasmLib() !== undefined && zstdWasmReady;
    else return codec === 'none' || codec === 'gzip';
    return true;
  } catch {
    return false;
  }
}

// ---- snappy: snappy-java ("xerial") framing, or a bare raw snappy block ----

/** snappy-java's stream header: magic "\x82SNAPPY\0", then int32 version 1 and int32 min-compatible version 1. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
/** snappy-java's default block size (what Kafka's Java producer gets from `new SnappyOutputStream(out)`). */
const XERIAL_BLOCK_SIZE = 32 * 1024;

// Copying the result into a V8-owned buffer is ~8x faster here than napi-rs's default external buffer.
const NAPI_COPY = { copyOutputData: true };
const NAPI_COPY_AS_BUFFER = { asBuffer: true, copyOutputData: true };

function snappyXerialCompress(input: Uint8Array): Buffer {
  const lib = snappyLib();
  const src = asBuffer(input);
  const blocks: Buffer[] = [];
  let total = XERIAL_HEADER_SIZE;
  for (let at = 0; at < src.length; at += XERIAL_BLOCK_SIZE) {
    const block = guard('snappy', 'compress', () => lib.compressSync(src.subarray(at, at + XERIAL_BLOCK_SIZE), NAPI_COPY));
    blocks.push(block);
    total += 4 + block.length;
  }
  const out = Buffer.allocUnsafe(total);
  XERIAL_MAGIC.copy(out, 0);
  out.writeInt32BE(1, 8);
  out.writeInt32BE(1, 12);
  let pos = XERIAL_HEADER_SIZE;
  for (const block of blocks) {
    out.writeInt32BE(block.length, pos);
    block.copy(out, pos + 4);
    pos += 4 + block.length;
  }
  return out;
}

function isXerialFramed(src: Buffer): boolean {
  return src.length >= XERIAL_HEADER_SIZE && src.compare(XERIAL_MAGIC, 0, 8, 0, 8) === 0;
}

function snappyDecompress(input: Uint8Array): Buffer {
  const lib = snappyLib();
  const src = asBuffer(input);
  // librdkafka and kafkajs-snappy may write one raw block; Java writes the xerial framing.
  if (!isXerialFramed(src)) return guard('snappy', 'decompress', () => lib.uncompressSync(src, NAPI_COPY_AS_BUFFER) as Buffer);
  const blocks: Buffer[] = [];
  let total = 0;
  let pos = XERIAL_HEADER_SIZE;
  while (pos < src.length) {
    if (pos + 4 > src.length) throw corrupt('snappy', `xerial snappy stream truncated inside a block length at byte ${pos}`);
    const len = src.readInt32BE(pos);
    pos += 4;
    if (len <= 0 || pos + len > src.length) {
      throw corrupt('snappy', `xerial snappy block of ${len} bytes at byte ${pos - 4} does not fit the ${src.length}-byte stream`);
    }
    const chunk = src.subarray(pos, pos + len);
    const block = guard('snappy', 'decompress', () => lib.uncompressSync(chunk, NAPI_COPY_AS_BUFFER) as Buffer);
    blocks.push(block);
    total += block.length;
    pos += len;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks, total);
}

// ---- lz4: the standard LZ4 frame format (magic 0x184D2204); only magic-0 batches carried the old wrong header checksum ----

const LZ4_FRAME_MAGIC = 0x184d2204;
/** Magic (4) + FLG + BD + header checksum (3) + end mark (4): the smallest complete frame. */
const LZ4_MIN_FRAME = 11;

function lz4Decompress(input: Uint8Array): Buffer {
  const lib = lz4Lib();
  const src = asBuffer(input);
  const frameEnd = lz4FrameEnd(src);
  return guard('lz4', 'decompress', () => lib.decompressFrameSync(frameEnd === src.length ? src : src.subarray(0, frameEnd)));
}

/**
 * Walks the frame's block headers and returns where its end mark finishes. The library treats running
 * out of input between blocks as the end of the frame, so without this a truncated frame would decode
 * to a silently shortened result. Bytes after the end mark are ignored, as Kafka's Java reader does.
 */
function lz4FrameEnd(src: Buffer): number {
  if (src.length < LZ4_MIN_FRAME || src.readUInt32LE(0) !== LZ4_FRAME_MAGIC) {
    throw corrupt('lz4', `not an LZ4 frame (${src.length} bytes, magic ${src.length >= 4 ? '0x' + src.readUInt32LE(0).toString(16) : 'missing'})`);
  }
  const flg = src[4]!;
  const blockChecksum = (flg & 0x10) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  // FLG, BD, optional 8-byte content size, optional 4-byte dictionary id, header checksum.
  let pos = 4 + 2 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0) + 1;
  for (;;) {
    if (pos + 4 > src.length) throw corrupt('lz4', `LZ4 frame truncated at byte ${pos} of ${src.length}: no end mark`);
    const size = src.readUInt32LE(pos) & 0x7fffffff; // high bit = stored uncompressed
    pos += 4;
    if (size === 0) break;
    pos += size + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) pos += 4;
  if (pos > src.length) throw corrupt('lz4', `LZ4 frame truncated: its content checksum ends at byte ${pos} of ${src.length}`);
  return pos;
}

// ---- zstd: standard zstd frames; Java (zstd-jni streams) omits the content size, librdkafka includes it ----

const ZSTD_FRAME_MAGIC = 0xfd2fb528;
/** Kafka's default zstd level (compression.zstd.level = 3). */
const ZSTD_LEVEL = 3;

function zstdCompress(input: Uint8Array): Buffer {
  const lib = zstdWasmLib();
  if (!zstdWasmReady) {
    throw unsupported('zstd', "zstd compression needs `await prepareCompression('zstd')` once first: its WASM encoder loads asynchronously");
  }
  const out = guard('zstd', 'compress', () => lib.compress(input, ZSTD_LEVEL));
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

function zstdDecompress(input: Uint8Array): Buffer {
  const lib = fzstdLib();
  // fzstd returns an empty result for empty input; a zstd batch always holds a frame (or a skippable frame).
  const magic = input.length >= 4 ? asBuffer(input).readUInt32LE(0) : -1;
  if (magic !== ZSTD_FRAME_MAGIC && (magic & 0xfffffff0) >>> 0 !== 0x184d2a50) {
    throw corrupt('zstd', `not a zstd frame (${input.length} bytes, magic ${magic === -1 ? 'missing' : '0x' + magic.toString(16)})`);
  }
  const out = guard('zstd', 'decompress', () => lib.decompress(input));
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

// ---- lazy library loading ----

type SnappyLib = typeof import('snappy');
type Lz4Lib = typeof import('lz4-napi');
type ZstdWasmLib = typeof import('@bokuweb/zstd-wasm');
type FzstdLib = typeof import('fzstd');

const requireLib = createRequire(import.meta.url);
const loaded = new Map<string, { lib?: unknown; error?: CompressionError }>();
let zstdWasmReady = false;
let zstdWasmInit: Promise<void> | undefined;

function load<T>(key: Compression | 'zstd-decoder', pkg: string): T {
  const codec: Compression = key === 'zstd-decoder' ? 'zstd' : key;
  let entry = loaded.get(key);
  if (entry === undefined) {
    try {
      entry = { lib: requireLib(pkg) };
    } catch (err) {
      const why = `${codec} compression needs the npm package "${pkg}", which did not load on ${process.platform}-${process.arch}: ${(err as Error).message}`;
      entry = { error: unsupported(codec, why, err) };
    }
    loaded.set(key, entry);
  }
  if (entry.error) throw entry.error;
  return entry.lib as T;
}

function snappyLib(): SnappyLib {
  return load('snappy', 'snappy');
}

function lz4Lib(): Lz4Lib {
  return load('lz4', 'lz4-napi');
}

/** libzstd compiled to WASM (no native binary, every platform); it must be instantiated asynchronously once. */
function zstdWasmLib(): ZstdWasmLib {
  return load('zstd', '@bokuweb/zstd-wasm');
}

/** Pure-JS decoder: synchronous from the first call, and it reads frames without a content size. */
function fzstdLib(): FzstdLib {
  return load('zstd-decoder', 'fzstd');
}

/**
 * Loads `codec`'s library now, so a missing one fails here rather than mid-encode, and instantiates the zstd
 * WASM encoder, without which compress('zstd') throws. Rejects with UNSUPPORTED_COMPRESSION_TYPE.
 */
export async function prepareCompression(codec: Compression): Promise<void> {
  if (codec === 'snappy') snappyLib();
  else if (codec === 'lz4') lz4Lib();
  else if (codec === 'zstd') {
    fzstdLib();
    const lib = zstdWasmLib();
    zstdWasmInit ??= lib.init().then(
      () => {
        zstdWasmReady = true;
      },
      (err: unknown) => {
        zstdWasmInit = undefined;
        throw unsupported('zstd', `the zstd WASM encoder failed to load: ${(err as Error).message}`, err);
      },
    );
    await zstdWasmInit;
  } else compressionCodecId(codec);
}

// ---- helpers ----

function asBuffer(input: Uint8Array): Buffer {
  return Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
}

/** Runs a library call, turning its failure into a CompressionError (a missing library's error passes through). */
function guard<T>(codec: Compression, op: 'compress' | 'decompress', fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CompressionError) throw err;
    const message = `${codec} ${op} failed: ${(err as Error).message}`;
    throw new CompressionError(op === 'decompress' ? 'CORRUPT_MESSAGE' : 'UNKNOWN_SERVER_ERROR', codec, message, { cause: err });
  }
}

function corrupt(codec: Compression, message: string): CompressionError {
  return new CompressionError('CORRUPT_MESSAGE', codec, `${codec} decompress failed: ${message}`);
}

function unsupported(codec: string, message: string, cause?: unknown): CompressionError {
  return new CompressionError('UNSUPPORTED_COMPRESSION_TYPE', codec, message, cause === undefined ? undefined : { cause });
}
