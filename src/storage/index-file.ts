/**
 * What the offset index and the time index share (Kafka's AbstractIndex): fixed-size big-endian entries
 * kept in memory, new entries appended to the file (no preallocation, no mmap), loaded lazily from disk,
 * a maximum entry count from `segment.index.bytes` that forces a roll when reached.
 *
 * A file is always a valid index when it is any prefix of the entries: so a torn trailing entry is
 * dropped on load, and an append that failed half-way is repaired by rewriting the file from memory.
 */
import fs from 'node:fs';
import { log } from '../logger.js';
import { FileHandle } from './file-handles.js';

export class IndexFile {
  readonly baseOffset: number;
  readonly entrySize: number;
  /** Entries allowed before the index counts as full (`segment.index.bytes` / entry size). */
  readonly maxEntries: number;

  protected buf: Buffer;
  protected count = 0;
  private loaded: boolean;
  /** Entries already in the file. */
  private written = 0;
  /** Append descriptor, opened when entries are written and closed by the budget while idle. */
  private readonly file: FileHandle;
  /** The file no longer matches a prefix of memory (a failed write); rewrite it whole at the next flush. */
  private needsRewrite = false;
  /** The file was deleted: memory still answers lookups, the file is never touched again. */
  private discarded = false;

  constructor(path: string, baseOffset: number, entrySize: number, maxIndexSize: number, options: { create: boolean }) {
    this.file = new FileHandle(path, (p) => fs.openSync(p, 'a'));
    this.baseOffset = baseOffset;
    this.entrySize = entrySize;
    this.maxEntries = Math.floor(maxIndexSize / entrySize);
    this.buf = Buffer.alloc(entrySize * 16);
    this.loaded = options.create;
    if (options.create) fs.writeFileSync(path, Buffer.alloc(0));
  }

  /** The index file's path; it changes when the segment is renamed for deletion. */
  get path(): string {
    return this.file.path;
  }

  set path(value: string) {
    this.file.path = value;
  }

  get entries(): number {
    this.ensureLoaded();
    return this.count;
  }

  get isFull(): boolean {
    return this.entries >= this.maxEntries;
  }

  /** Whether the index file exists (a missing one makes the segment rebuild its indexes). */
  fileExists(): boolean {
    return fs.existsSync(this.path);
  }

  /**
   * Reads the file into memory on first use. Returns a reason when the entries are not a valid index
   * (the caller rebuilds from the log); a torn trailing entry is dropped silently.
   */
  load(): string | null {
    if (this.loaded) return null;
    let data: Buffer;
    try {
      data = fs.readFileSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') data = Buffer.alloc(0);
      else throw err;
    }
    const whole = data.length - (data.length % this.entrySize);
    if (whole !== data.length) {
      log.warn({ path: this.path, size: data.length }, 'dropping a torn trailing index entry');
      fs.truncateSync(this.path, whole);
    }
    this.buf = data.length >= this.entrySize * 16 ? data : Buffer.concat([data, Buffer.alloc(this.entrySize * 16)]);
    this.count = whole / this.entrySize;
    this.written = this.count;
    this.loaded = true;
    const problem = this.check();
    if (problem) this.reset();
    return problem;
  }

  protected ensureLoaded(): void {
    if (!this.loaded) {
      const problem = this.load();
      if (problem) log.warn({ path: this.path, problem }, 'index file invalid; it starts empty');
    }
  }

  /** Why the loaded entries are not a valid index, or null. Subclasses check their ordering rules. */
  protected check(): string | null {
    return null;
  }

  /** Room for one more entry, growing by doubling. */
  protected slot(): number {
    this.ensureLoaded();
    const at = this.count * this.entrySize;
    if (at + this.entrySize > this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, at);
      this.buf = bigger;
    }
    this.count++;
    return at;
  }

  /** Empties the index in memory and on disk (recovery rebuilds it). */
  reset(): void {
    this.count = 0;
    this.written = 0;
    this.loaded = true;
    this.needsRewrite = true;
  }

  /** Appends the entries not yet in the file; on failure the file is rewritten whole next time. */
  flush(): void {
    if (!this.loaded || this.discarded) return;
    try {
      if (this.needsRewrite) {
        this.closeFd();
        fs.writeFileSync(this.path, this.buf.subarray(0, this.count * this.entrySize));
        this.written = this.count;
        this.needsRewrite = false;
        return;
      }
      if (this.written === this.count) return;
      const start = this.written * this.entrySize;
      const end = this.count * this.entrySize;
      this.file.with((fd) => {
        let off = start;
        while (off < end) off += fs.writeSync(fd, this.buf, off, end - off);
      });
      this.written = this.count;
    } catch (err) {
      // The in-memory index stays right; only the file lags, and a lagging index is still a valid one.
      this.needsRewrite = true;
      log.warn({ path: this.path, err }, 'index file write failed; will rewrite it');
    }
  }

  /** Flushes pending entries and fsyncs the file, off the event loop. */
  async sync(): Promise<void> {
    this.flush();
    if (this.discarded || !this.loaded || this.written === 0) return;
    await this.file.withAsync((fd) => new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve()))));
  }

  /** Stops all file access (the segment's files are being deleted). */
  discard(): void {
    this.discarded = true;
    this.closeFd();
  }

  /** Closes the append descriptor (at once, or when a pending write or fsync ends); a later write reopens it. */
  closeFd(): void {
    this.file.close();
  }

  /** Binary search: index of the last entry whose key is ≤ target, or -1. `keyAt` is monotonic. */
  protected floorIndex(target: number, keyAt: (i: number) => number): number {
    this.ensureLoaded();
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (keyAt(mid) <= target) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }
}
