/**
 * A typed client for Clover's HTTP services. Every call has a timeout; a 429 is retried with a
 * backoff that honours `retry-after` while the caller's time budget lasts. Outcomes are values:
 * `ok` with the parsed body, `clover_error` with Clover's status and error body, or `unknown` when
 * the request may have reached Clover but no answer came back (timeout, dropped connection), which
 * money-moving callers must treat as "maybe happened". What an answer proves about a money
 * operation is decided in one place, shared/payments/evidence.ts, not here.
 */
import { hooks } from '../hooks';

export interface CloverErrorBody {
  message?: string;
  error?: {
    type?: string;
    code?: string;
    message?: string;
    param?: string;
    decline_code?: string;
    declineCode?: string;
    charge?: string;
  };
}

export type CloverResult<T> =
  /** `nonJson`: the body was not JSON (kept as `{message}`); such a 2xx proves nothing (shared/payments/evidence.ts). */
  | { readonly kind: 'ok'; readonly status: number; readonly body: T; readonly nonJson?: true }
  | {
      readonly kind: 'clover_error';
      readonly status: number;
      readonly body: CloverErrorBody;
      readonly retryAfter?: number;
      readonly nonJson?: true;
      /** The `X-RateLimit-*` header a 429 named: which of Clover's limits was hit. */
      readonly rateLimit?: string;
    }
  | { readonly kind: 'unknown'; readonly reason: 'timeout' | 'connection' }
  | { readonly kind: 'unreachable' };

export interface CloverRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Absolute deadline (epoch ms) of the whole operation, retries included. */
  readonly deadline?: number;
  /**
   * Retry a 429 here, after Clover's `retry-after` (default true). Money calls say false: they take
   * their turn from the shared rate budget instead (shared/clover/budget.ts), and a second send
   * would make the operation a re-send.
   */
  readonly retryRateLimited?: boolean;
}

export interface CloverHttpOptions {
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly userAgent?: string;
}

const USER_AGENT = 'clover-payment-functions/0.1';
const RATE_LIMIT_HEADERS = [
  'x-ratelimit-tokenconcurrentlimit',
  'x-ratelimit-tokenlimit',
  'x-ratelimit-crosstokenconcurrentlimit',
  'x-ratelimit-crosstokenlimit',
];

export class CloverHttp {
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  constructor(private readonly opts: CloverHttpOptions) {
    this.fetchFn = opts.fetch ?? ((input, init) => hooks.fetch(input, init));
    this.sleep = opts.sleep ?? ((ms) => hooks.sleep(ms));
    this.now = opts.now ?? (() => hooks.now());
  }

  async send<T>(req: CloverRequest): Promise<CloverResult<T>> {
    const deadline = req.deadline ?? this.now() + this.opts.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const result = await this.once<T>(req, Math.min(this.opts.timeoutMs, Math.max(1, deadline - this.now())));
      if (result.kind !== 'clover_error' || result.status !== 429 || req.retryRateLimited === false) return result;
      // Clover asks for at least a second after a 429, and retrying early lengthens the wait.
      const backoff = Math.max((result.retryAfter ?? 1) * 1000, 250 * 2 ** attempt) + Math.floor(Math.random() * 100);
      if (this.now() + backoff + 200 >= deadline || attempt >= 4) return result;
      await this.sleep(backoff);
    }
  }

  private async once<T>(req: CloverRequest, timeoutMs: number): Promise<CloverResult<T>> {
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': this.opts.userAgent ?? USER_AGENT,
      ...req.headers,
    };
    if (req.body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchFn(req.url, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      return classifyFetchError(e);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (e) {
      // Headers came back but the body did not: the request did reach Clover.
      const c = classifyFetchError(e);
      return c.kind === 'unreachable' ? { kind: 'unknown', reason: 'connection' } : c;
    }
    let body: unknown = {};
    let nonJson = false;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = { message: text.slice(0, 200) };
        nonJson = true;
      }
    }
    const flag = nonJson ? ({ nonJson: true } as const) : {};
    if (res.status >= 200 && res.status < 300) return { kind: 'ok', status: res.status, body: body as T, ...flag };
    const retryAfter = Number(res.headers.get('retry-after'));
    const rateLimit = RATE_LIMIT_HEADERS.find((h) => res.headers.has(h));
    return {
      kind: 'clover_error',
      status: res.status,
      body: (body ?? {}) as CloverErrorBody,
      ...flag,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfter } : {}),
      ...(rateLimit ? { rateLimit } : {}),
    };
  }
}

/**
 * A refused connection never reached Clover (`unreachable`, safe to retry as new); a timeout or a
 * reset after connecting may have (`unknown`).
 */
function classifyFetchError(e: unknown): CloverResult<never> {
  const err = e as { name?: string; cause?: { code?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return { kind: 'unknown', reason: 'timeout' };
  const code = err?.cause?.code ?? '';
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) {
    return { kind: 'unreachable' };
  }
  return { kind: 'unknown', reason: 'connection' };
}

/** Clover's decline code, whichever spelling it used (clover-api.md §7.2). */
export function declineCodeOf(body: CloverErrorBody): string | undefined {
  return body.error?.decline_code ?? body.error?.declineCode;
}
