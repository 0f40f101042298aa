import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDelivered, nextAttempt, RETRY_WINDOW_S, shouldDisableEndpoint } from '../../../shared/events/backoff';

const noJitter = { random: () => 0.5 };
const H = 3600_000;

describe('webhook retry schedule', () => {
  it('retries at 1 min, 5 min, 30 min, 2 h, 5 h, then every 10 h, within 3 days', () => {
    const first = 0;
    let now = first;
    const times: number[] = [0];
    for (let attempt = 1; ; attempt++) {
      const { nextAttemptAt } = nextAttempt(attempt, first, now, noJitter);
      if (nextAttemptAt === null) break;
      now = nextAttemptAt;
      times.push(now);
    }
    expect(times.slice(1, 6).map((t, i) => t - times[i]!)).toEqual([60_000, 300_000, 1_800_000, 2 * H, 5 * H]);
    expect(times).toHaveLength(12);
    expect(times.at(-1)!).toBeLessThanOrEqual(72 * H);
    expect(times.at(-1)!).toBeGreaterThan(60 * H);
  });

  it('never schedules past the 3-day window, whatever the jitter', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 80 * 3600 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (n, nowS, r) => {
          const { nextAttemptAt } = nextAttempt(n, 0, nowS * 1000, { random: () => r });
          if (nextAttemptAt !== null) {
            expect(nextAttemptAt).toBeGreaterThan(nowS * 1000);
            expect(nextAttemptAt).toBeLessThanOrEqual(RETRY_WINDOW_S * 1000);
          }
        },
      ),
    );
  });

  it('jitter stays within ±10%', () => {
    expect(nextAttempt(1, 0, 0, { random: () => 0 }).nextAttemptAt).toBe(54_000);
    expect(nextAttempt(1, 0, 0, { random: () => 1 }).nextAttemptAt).toBe(66_000);
  });

  it('scale shrinks the whole schedule (tests, the local fault suite)', () => {
    expect(nextAttempt(1, 0, 0, { ...noJitter, scale: 0.01 }).nextAttemptAt).toBe(600);
  });

  it('an endpoint is disabled after 3 days of failures, not before', () => {
    expect(shouldDisableEndpoint(undefined, 10 * 24 * H)).toBe(false);
    expect(shouldDisableEndpoint(0, 72 * H - 1)).toBe(false);
    expect(shouldDisableEndpoint(0, 72 * H)).toBe(true);
  });

  it('only 2xx is delivered', () => {
    expect([200, 204, 299].every(isDelivered)).toBe(true);
    expect([null, 199, 301, 400, 410, 500].some(isDelivered)).toBe(false);
  });
});
