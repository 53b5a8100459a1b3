/** Something that announces appends: a partition log. */
export interface AppendSource {
  onAppend(listener: () => void): () => void;
}

export type WakeReason = 'append' | 'timeout' | 'abort';

/**
 * The fetch waiting room: a long-poll fetch parks here until one of its partitions is appended to,
 * its MaxWaitMs runs out, its connection closes, or the broker shuts down. Appends wake it directly;
 * no timer polls the logs.
 */
export class FetchWaiters {
  private readonly waiting = new Set<(reason: WakeReason) => void>();

  get size(): number {
    return this.waiting.size;
  }

  wait(sources: readonly AppendSource[], timeoutMs: number, signal: AbortSignal): Promise<WakeReason> {
    if (signal.aborted) return Promise.resolve('abort');
    return new Promise((resolve) => {
      const unsubscribes: (() => void)[] = [];
      let done = false;
      const finish = (reason: WakeReason): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        for (const unsubscribe of unsubscribes) unsubscribe();
        signal.removeEventListener('abort', onAbort);
        this.waiting.delete(finish);
        resolve(reason);
      };
      const onAbort = (): void => finish('abort');
      const timer = setTimeout(() => finish('timeout'), Math.max(0, timeoutMs));
      for (const source of sources) unsubscribes.push(source.onAppend(() => finish('append')));
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.add(finish);
    });
  }

  /** Ends every wait now (broker shutdown): each fetch answers with what it has. */
  wakeAll(): void {
    for (const finish of [...this.waiting]) finish('abort');
  }
}
