// Clover's REST rate limits (clover-api.md §7.3, §13.17): requests per second and requests in
// flight, per token and across all tokens of an app. A 429 names the limit it hit in an
// `X-RateLimit-*` header; the concurrency ones add `retry-after`. Real time, not the `now` option,
// so tests that freeze the clock do not freeze the windows.

import { performance } from 'node:perf_hooks';
import type { RateLimits } from './config';
import { cloverError, type Reply } from './errors';

export type Admission = { ok: true; release: () => void } | { ok: false; reply: Reply };

export class RateLimiter {
  private readonly hits = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();

  admit(limits: RateLimits, tokenKey: string, appKey: string): Admission {
    const now = performance.now();
    const tokenHits = this.recent(`t:${tokenKey}`, now);
    const appHits = this.recent(`a:${appKey}`, now);
    if (tokenHits.length >= limits.token_rps) return rejected('X-RateLimit-tokenLimit', limits.token_rps, false);
    if (this.count(`t:${tokenKey}`) >= limits.token_concurrent) {
      return rejected('X-RateLimit-tokenConcurrentLimit', limits.token_concurrent, true);
    }
    if (appHits.length >= limits.app_rps) return rejected('X-RateLimit-crossTokenLimit', limits.app_rps, false);
    if (this.count(`a:${appKey}`) >= limits.app_concurrent) {
      return rejected('X-RateLimit-crossTokenConcurrentLimit', limits.app_concurrent, true);
    }
    tokenHits.push(now);
    appHits.push(now);
    this.add(`t:${tokenKey}`, 1);
    this.add(`a:${appKey}`, 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.add(`t:${tokenKey}`, -1);
        this.add(`a:${appKey}`, -1);
      },
    };
  }

  clear(): void {
    this.hits.clear();
  }

  private recent(key: string, now: number): number[] {
    const kept = (this.hits.get(key) ?? []).filter((t) => now - t < 1000);
    if (this.hits.size > 10_000) {
      for (const [k, v] of this.hits) if (!v.some((t) => now - t < 1000)) this.hits.delete(k);
    }
    this.hits.set(key, kept);
    return kept;
  }

  private count(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }

  private add(key: string, delta: number): void {
    const next = this.count(key) + delta;
    if (next <= 0) this.inFlight.delete(key);
    else this.inFlight.set(key, next);
  }
}

function rejected(headerName: string, limit: number, concurrent: boolean): Admission {
  const headers: Record<string, string> = { [headerName]: String(limit) };
  if (concurrent) headers['retry-after'] = '1';
  const error = cloverError(
    429,
    {
      type: 'rate_limit_error',
      code: 'rate_limit',
      message: concurrent ? 'Too many concurrent requests' : 'Too many requests per second',
    },
    headers,
  );
  return { ok: false, reply: error.toReply() };
}
