// One request at a time, and only the latest wish waits: a key held down
// asks for fifty steps, and only the one the cursor ends on is worth
// re-executing. Results of requests that a newer wish has superseded are
// dropped; the caller keeps showing what it had until the latest arrives.

export type Outcome<V> = { ok: true; value: V } | { ok: false; error: unknown };

export class Latest<K, V> {
  private running = false;
  private current: K | undefined;
  private wanted: { key: K } | null = null;
  private stopped = false;

  constructor(
    private readonly run: (key: K) => Promise<V>,
    private readonly deliver: (key: K, outcome: Outcome<V>) => void,
  ) {}

  /** Ask for `key`; any earlier wish not yet started is forgotten. */
  want(key: K): void {
    if (this.stopped) return;
    // The request running now answers it.
    if (this.running && Object.is(key, this.current)) {
      this.wanted = null;
      return;
    }
    this.wanted = { key };
    if (!this.running) void this.pump();
  }

  /** Drop every result from now on (the component is gone, or asks another session). */
  stop(): void {
    this.stopped = true;
    this.wanted = null;
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.wanted && !this.stopped) {
        const key = this.wanted.key;
        this.wanted = null;
        this.current = key;
        let outcome: Outcome<V>;
        try {
          outcome = { ok: true, value: await this.run(key) };
        } catch (error) {
          outcome = { ok: false, error };
        }
        if (!this.stopped && !this.wanted) this.deliver(key, outcome);
      }
    } finally {
      this.running = false;
      this.current = undefined;
    }
  }
}
