/**
 * The retry schedule of webhook deliveries: attempts at once, then after 1 min, 5 min, 30 min, 2 h,
 * 5 h, then every 10 h, for as long as the next attempt still falls within 3 days of the first
 * (Stripe retries for up to 3 days too): 12 attempts over ~68 h. Each delay gets up to ±10%
 * jitter so that an endpoint's backlog does not come back as one burst.
 *
 * `scale` shrinks every duration (tests and the local platform's fault suite run the same
 * schedule in seconds): EVENTS_RETRY_SCALE.
 */
export const RETRY_DELAYS_S = [60, 300, 1800, 7200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000] as const;
/** Deliveries are retried, and failing endpoints kept, for 3 days. */
export const RETRY_WINDOW_S = 3 * 24 * 3600;
/** Each attempt waits this long for the receiver's answer. */
export const ATTEMPT_TIMEOUT_MS = 10_000;

export interface RetryDecision {
  /** Retry at this time (epoch ms), or give up (`null`): the delivery has failed for good. */
  readonly nextAttemptAt: number | null;
}

/**
 * After failed attempt number `attempt` (1-based) of a delivery whose first attempt was at
 * `firstAttemptAt`: when to try again, if at all.
 */
export function nextAttempt(
  attempt: number,
  firstAttemptAt: number,
  now: number,
  opts: { scale?: number; random?: () => number } = {},
): RetryDecision {
  const scale = opts.scale ?? 1;
  const random = opts.random ?? Math.random;
  const delay = RETRY_DELAYS_S[attempt - 1];
  if (delay === undefined) return { nextAttemptAt: null };
  const jitter = 1 + (random() * 2 - 1) * 0.1;
  const at = now + delay * 1000 * scale * jitter;
  if (at - firstAttemptAt > RETRY_WINDOW_S * 1000 * scale) return { nextAttemptAt: null };
  return { nextAttemptAt: Math.round(at) };
}

/** An endpoint that has failed every attempt for 3 days (since `failingSince`) is disabled. */
export function shouldDisableEndpoint(failingSince: number | undefined, now: number, scale = 1): boolean {
  return failingSince !== undefined && now - failingSince >= RETRY_WINDOW_S * 1000 * scale;
}

/** A 2xx answer is a delivery; anything else (other statuses, timeouts, refused connections) is retried. */
export const isDelivered = (status: number | null): boolean => status !== null && status >= 200 && status < 300;
