// A token bucket per client: fresh (nonced) quotes cost the TEE real work, so each client gets a
// small burst and a slow refill. Buckets of idle clients are forgotten.

export class RateLimiter {
  private readonly capacity: number;
  private readonly refillPerMs: number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(o: { capacity: number; refillPerSecond: number }) {
    this.capacity = o.capacity;
    this.refillPerMs = o.refillPerSecond / 1000;
  }

  /** Takes one token for `client`; false when its bucket is empty. */
  take(client: string, now = Date.now()): boolean {
    const b = this.buckets.get(client) ?? { tokens: this.capacity, at: now };
    b.tokens = Math.min(this.capacity, b.tokens + (now - b.at) * this.refillPerMs);
    b.at = now;
    if (this.buckets.size > 10_000) this.prune(now);
    if (b.tokens < 1) {
      this.buckets.set(client, b);
      return false;
    }
    b.tokens -= 1;
    this.buckets.set(client, b);
    return true;
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * this.refillPerMs >= this.capacity) this.buckets.delete(k);
  }
}
