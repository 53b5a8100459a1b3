/**
 * A small deterministic PRNG (sfc32) so every randomized test can print its seed and be replayed:
 * `PENSTOCK_SEED=<seed>` fixes it.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.next() / 4294967296) * n);
  }

  /** Uniform in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** A seeded child generator, so one part of a test does not shift another's sequence. */
  fork(): Rng {
    return new Rng(this.next());
  }
}

/** The seed for this run: PENSTOCK_SEED if set, else random. Tests print it on failure. */
export function runSeed(): number {
  const fixed = process.env.PENSTOCK_SEED;
  if (fixed !== undefined && fixed !== '') return Number(fixed) >>> 0;
  return (Math.random() * 4294967296) >>> 0;
}
