/**
 * Segment file descriptors under one budget for the process. A segment's log, offset index and time
 * index are opened when something needs them and stay open while idle only as long as the process is
 * under its budget: the least recently used idle ones are closed first. A descriptor in use — a region
 * being sent, a write, an fdatasync — is never closed under its user; it closes when released if it was
 * retired or the budget is exceeded meanwhile.
 *
 * Thousands of partitions (each with an active segment and its indexes) would otherwise hold three or
 * four descriptors each forever and leave none for connections.
 */
import fs from 'node:fs';
import { log } from '../logger.js';

/** Budget when the process's RLIMIT_NOFILE cannot be read. */
const DEFAULT_BUDGET = 1024;
/** Share of RLIMIT_NOFILE segment files may keep open while idle; the rest is for sockets and the runtime. */
const BUDGET_SHARE = 1 / 8;
const MIN_BUDGET = 16;

/** The soft RLIMIT_NOFILE of this process (Linux: /proc/self/limits), or null where unknown. */
export function openFileLimit(): number | null {
  try {
    const limits = fs.readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
    if (!match) return null;
    return match[1] === 'unlimited' ? null : Number(match[1]);
  } catch {
    return null;
  }
}

function defaultBudget(): number {
  const limit = openFileLimit();
  return limit === null ? DEFAULT_BUDGET : Math.max(MIN_BUDGET, Math.floor(limit * BUDGET_SHARE));
}

function isOutOfDescriptors(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** The open segment descriptors of the process and the order in which idle ones are closed. */
export class FileHandleBudget {
  /** Idle open handles, least recently used first (a Map keeps insertion order). */
  private readonly idle = new Map<FileHandle, true>();
  private openCount = 0;

  constructor(private limit: number = defaultBudget()) {}

  /** Descriptors open now, idle or in use. */
  get open(): number {
    return this.openCount;
  }

  get budget(): number {
    return this.limit;
  }

  /** Changes the budget (tests, and callers that know better); closes idle descriptors above it at once. */
  setBudget(limit: number): void {
    this.limit = Math.max(1, limit);
    this.trim();
  }

  /** Closes every idle descriptor (used when the process runs out of them). */
  closeIdle(): number {
    let closed = 0;
    for (const handle of [...this.idle.keys()]) {
      handle.closeFd();
      closed++;
    }
    return closed;
  }

  /** Opens with `openFn`; out of descriptors, closes every idle one and tries once more. */
  openWithRetry(openFn: () => number): number {
    try {
      return openFn();
    } catch (err) {
      if (!isOutOfDescriptors(err)) throw err;
      const closed = this.closeIdle();
      log.warn({ closed, open: this.openCount, budget: this.limit }, 'out of file descriptors; closed idle segment files');
      return openFn();
    }
  }

  /** @internal */
  opened(): void {
    this.openCount++;
  }

  /** @internal */
  closed(handle: FileHandle): void {
    this.openCount--;
    this.idle.delete(handle);
  }

  /** @internal A handle went out of use: it becomes the most recently used idle one. */
  becameIdle(handle: FileHandle): void {
    this.idle.delete(handle);
    this.idle.set(handle, true);
    this.trim();
  }

  /** @internal */
  inUse(handle: FileHandle): void {
    this.idle.delete(handle);
  }

  private trim(): void {
    for (const handle of this.idle.keys()) {
      if (this.openCount <= this.limit) break;
      handle.closeFd();
    }
  }
}

/** The process's budget, shared by every segment. */
export const segmentFileBudget = new FileHandleBudget();

/**
 * One file opened on demand: `acquire()` returns a descriptor (opening the file if needed) that stays
 * valid until the matching `release()`. While no one holds it the budget may close it; the next acquire
 * opens it again. `close()` closes it as soon as it is released and keeps it closed until the next acquire.
 */
export class FileHandle {
  private fd = -1;
  private users = 0;
  /** Close as soon as the last user releases it, whatever the budget. */
  private closeWhenIdle = false;

  constructor(
    /** Path to open; may change (a segment renamed for deletion) while the descriptor stays valid. */
    public path: string,
    private readonly openFn: (path: string) => number,
    private readonly budget: FileHandleBudget = segmentFileBudget,
  ) {}

  /** Users holding the descriptor now. */
  get holders(): number {
    return this.users;
  }

  get isOpen(): boolean {
    return this.fd >= 0;
  }

  /** The descriptor, opened if needed; every acquire needs one release. Throws what open(2) throws. */
  acquire(): number {
    if (this.fd < 0) {
      this.fd = this.budget.openWithRetry(() => this.openFn(this.path));
      this.budget.opened();
    }
    this.users++;
    this.closeWhenIdle = false;
    this.budget.inUse(this);
    return this.fd;
  }

  release(): void {
    if (this.users === 0) {
      log.error({ path: this.path }, 'file handle released more often than acquired');
      return;
    }
    this.users--;
    if (this.users > 0 || this.fd < 0) return;
    if (this.closeWhenIdle) this.closeFd();
    else this.budget.becameIdle(this);
  }

  /** Closes the descriptor now if no one holds it, else once the last holder releases it. */
  close(): void {
    if (this.users > 0) this.closeWhenIdle = true;
    else this.closeFd();
  }

  /** @internal Closes the descriptor; only when no one holds it. */
  closeFd(): void {
    if (this.fd < 0 || this.users > 0) return;
    const fd = this.fd;
    this.fd = -1;
    this.budget.closed(this);
    // Synchronous: closing does not wait on the disk, and the number is free at once.
    try {
      fs.closeSync(fd);
    } catch (err) {
      log.warn({ path: this.path, err }, 'closing a segment file failed');
    }
  }

  /** Runs `fn` with the descriptor held. */
  with<T>(fn: (fd: number) => T): T {
    const fd = this.acquire();
    try {
      return fn(fd);
    } finally {
      this.release();
    }
  }

  /** Holds the descriptor until `fn`'s promise settles. */
  async withAsync<T>(fn: (fd: number) => Promise<T>): Promise<T> {
    const fd = this.acquire();
    try {
      return await fn(fd);
    } finally {
      this.release();
    }
  }
}
