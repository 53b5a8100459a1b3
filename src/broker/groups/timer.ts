/**
 * Every deadline of the group coordinator (session expiries, join and sync deadlines, the offset
 * expiration sweep) in one min-heap behind a single unref'd Node timer — Kafka's purgatory timer on one
 * thread. Cancelling marks an entry dead; dead entries are dropped lazily, and the heap is rebuilt when
 * they outnumber the live ones so churn never grows it without bound. `close()` clears the one timer,
 * so a stopped coordinator holds no handle.
 */

export interface TimerTask {
  /** Monotonic milliseconds (the timer's clock) at which the task runs. */
  readonly at: number;
  /** False once cancelled or run. */
  readonly active: boolean;
}

interface Entry extends TimerTask {
  at: number;
  active: boolean;
  seq: number;
  inHeap: boolean;
  run: () => void;
}

/** Node caps timeouts at 2^31-1 ms; a later deadline is re-armed when the cap elapses. */
const MAX_NODE_DELAY = 2_147_483_647;

export class CoordinatorTimer {
  private heap: Entry[] = [];
  private dead = 0;
  private seq = 0;
  private handle: NodeJS.Timeout | null = null;
  private armedFor = Infinity;
  private closed = false;

  constructor(
    /** Monotonic clock in milliseconds. */
    readonly now: () => number = () => performance.now(),
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Live tasks (for tests and diagnostics). */
  get size(): number {
    return this.heap.length - this.dead;
  }

  /** Whether the Node timer is set (for tests: a closed timer holds none). */
  get armed(): boolean {
    return this.handle !== null;
  }

  /** Runs `run` once, `delayMs` from now. */
  schedule(delayMs: number, run: () => void): TimerTask {
    const entry: Entry = { at: this.now() + Math.max(0, delayMs), active: !this.closed, seq: this.seq++, inHeap: false, run };
    if (this.closed) return entry;
    this.push(entry);
    if (entry.at < this.armedFor) this.arm();
    return entry;
  }

  cancel(task: TimerTask | null | undefined): void {
    const entry = task as Entry | null | undefined;
    if (!entry || !entry.active) return;
    entry.active = false;
    if (!entry.inHeap) return;
    this.dead++;
    if (this.dead > 64 && this.dead > this.heap.length / 2) this.rebuild();
  }

  /** Drops every task and the Node timer. */
  close(): void {
    this.closed = true;
    if (this.handle) clearTimeout(this.handle);
    this.handle = null;
    this.armedFor = Infinity;
    for (const entry of this.heap) {
      entry.active = false;
      entry.inHeap = false;
    }
    this.heap = [];
    this.dead = 0;
  }

  private fire(): void {
    this.handle = null;
    this.armedFor = Infinity;
    const now = this.now();
    // Bounded: only tasks due now run; tasks they schedule for "now" run on the next timer turn.
    const due: Entry[] = [];
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const entry = this.pop();
      if (!entry.active) {
        this.dead--;
        continue;
      }
      due.push(entry);
    }
    for (const entry of due) {
      if (!entry.active) continue; // cancelled by an earlier task of this turn
      entry.active = false;
      try {
        entry.run();
      } catch (err) {
        this.onError(err);
      }
    }
    if (!this.closed) this.arm();
  }

  private arm(): void {
    while (this.heap.length > 0 && !this.heap[0]!.active) {
      this.pop();
      this.dead--;
    }
    if (this.heap.length === 0) {
      if (this.handle) clearTimeout(this.handle);
      this.handle = null;
      this.armedFor = Infinity;
      return;
    }
    const at = this.heap[0]!.at;
    if (this.handle && at >= this.armedFor) return;
    if (this.handle) clearTimeout(this.handle);
    const delay = Math.min(MAX_NODE_DELAY, Math.max(0, Math.ceil(at - this.now())));
    this.armedFor = at;
    this.handle = setTimeout(() => this.fire(), delay);
    // The listening socket keeps a broker alive; group deadlines alone must not.
    this.handle.unref();
  }

  private rebuild(): void {
    for (const e of this.heap) if (!e.active) e.inHeap = false;
    this.heap = this.heap.filter((e) => e.active);
    this.dead = 0;
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(entry: Entry): void {
    entry.inHeap = true;
    this.heap.push(entry);
    let i = this.heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.heap[i]!, this.heap[parent]!)) break;
      [this.heap[i], this.heap[parent]] = [this.heap[parent]!, this.heap[i]!];
      i = parent;
    }
  }

  private pop(): Entry {
    const top = this.heap[0]!;
    top.inHeap = false;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    return top;
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(this.heap[l]!, this.heap[m]!)) m = l;
      if (r < n && this.less(this.heap[r]!, this.heap[m]!)) m = r;
      if (m === i) return;
      [this.heap[i], this.heap[m]] = [this.heap[m]!, this.heap[i]!];
      i = m;
    }
  }
}
