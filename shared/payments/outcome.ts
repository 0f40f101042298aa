/**
 * Clover's answer to a money-moving call, classified: definitive success, definitive failure
 * (replayed to retries as it is), a failure that did nothing at Clover but may be retried (429),
 * or an unknown outcome (the request may have taken effect) that leaves the ledger `pending`.
 */
import type { CloverErrorBody, CloverResult } from '../clover/client';
import { declineCodeOf } from '../clover/client';
import { ApiError } from '../http/errors';
import { dependencyUnavailable, isDependencyFailure } from '../http/handler';
import { emitMetric } from '../metrics';

export type Outcome<T> =
  | { readonly state: 'succeeded'; readonly body: T }
  | {
      readonly state: 'failed';
      /** false: nothing happened at Clover and the same request may be sent again (429). */
      readonly definitive: boolean;
      readonly error: ApiError;
      readonly failureCode: string;
      readonly failureMessage: string;
      readonly declineCode?: string;
      readonly cloverChargeId?: string;
    }
  | { readonly state: 'pending'; readonly error: (resourceId: string) => ApiError };

/** Clover error codes that are about the request, mapped to our (code, param). */
const REQUEST_CODES: Record<string, [string, string | undefined]> = {
  token_already_used: ['token_already_used', 'source'],
  resource_missing: ['invalid_source', 'source'],
  invalid_request: ['invalid_request', undefined],
  amount_too_large: ['amount_too_large', 'amount'],
  invalid_charge_amount: ['invalid_amount', 'amount'],
  charge_already_captured: ['charge_already_captured', undefined],
  charge_already_refunded: ['charge_already_refunded', undefined],
};

export function classify<T>(r: CloverResult<T>, what: 'charge' | 'capture' | 'refund'): Outcome<T> {
  if (r.kind === 'ok') return { state: 'succeeded', body: r.body };
  if (r.kind === 'unreachable') {
    emitMetric('CloverErrors');
    return {
      state: 'pending',
      error: (id) =>
        new ApiError(
          503,
          'api_error',
          'clover_unreachable',
          'Clover could not be reached; retry with the same Idempotency-Key.',
          { charge: id },
        ),
    };
  }
  if (r.kind === 'unknown') {
    emitMetric('CloverErrors');
    const timeout = r.reason === 'timeout';
    return {
      state: 'pending',
      error: (id) =>
        new ApiError(
          timeout ? 504 : 502,
          'api_error',
          timeout ? 'clover_timeout' : 'clover_connection_lost',
          `Clover's answer was lost (${timeout ? 'timed out' : 'connection dropped'}); the ${what} is pending. Retry with the same Idempotency-Key to learn its outcome.`,
          { charge: id },
        ),
    };
  }
  const { status, body } = r;
  const code = body.error?.code ?? '';
  if (status >= 500 || status === 409) {
    emitMetric('CloverErrors');
    return {
      state: 'pending',
      error: (id) =>
        new ApiError(
          502,
          'api_error',
          'clover_error',
          `Clover failed (${status}); the ${what} is pending. Retry with the same Idempotency-Key.`,
          {
            charge: id,
          },
        ),
    };
  }
  if (status === 429) {
    return {
      state: 'failed',
      definitive: false,
      error: new ApiError(
        429,
        'rate_limit_error',
        'rate_limited',
        'Clover is rate limiting this merchant; retry shortly.',
        {
          retryAfter: r.retryAfter ?? 1,
        },
      ),
      failureCode: 'rate_limited',
      failureMessage: 'Clover rate limited the request.',
    };
  }
  return definitiveFailure(status, body, code);
}

function definitiveFailure(status: number, body: CloverErrorBody, code: string): Outcome<never> {
  const message = body.error?.message ?? body.message ?? 'Clover refused the request.';
  if (code === 'card_declined' || status === 402) {
    const declineCode = declineCodeOf(body);
    return {
      state: 'failed',
      definitive: true,
      error: new ApiError(402, 'card_error', 'card_declined', 'The card was declined.', {
        param: 'source',
        ...(declineCode ? { decline_code: declineCode } : {}),
      }),
      failureCode: 'card_declined',
      failureMessage: 'The card was declined.',
      ...(declineCode ? { declineCode } : {}),
      ...(body.error?.charge ? { cloverChargeId: body.error.charge } : {}),
    };
  }
  if (status === 401 || status === 403) {
    emitMetric('CloverErrors');
    return {
      state: 'failed',
      definitive: true,
      error: new ApiError(
        502,
        'api_error',
        'clover_unauthorized',
        'Clover refused this app’s authorization for the merchant.',
      ),
      failureCode: 'clover_unauthorized',
      failureMessage: 'Clover refused the authorization.',
    };
  }
  const [ourCode, param] = REQUEST_CODES[code] ?? ['clover_rejected', undefined];
  const conflict = ourCode === 'charge_already_captured' || ourCode === 'charge_already_refunded';
  return {
    state: 'failed',
    definitive: true,
    error: new ApiError(
      conflict ? 409 : 400,
      'invalid_request_error',
      ourCode,
      safeMessage(message),
      param ? { param } : {},
    ),
    failureCode: ourCode,
    failureMessage: safeMessage(message),
  };
}

/**
 * Clover's own messages are shown only when short and free of digit runs (never card data) and of
 * anything token- or key-like: Clover quotes ids back (`No such token: 'clv_…'`).
 */
function safeMessage(m: string): string {
  return m.length <= 200 && !/\d{6,}|clv_|[A-Za-z0-9_-]{20,}/.test(m) ? m : 'Clover refused the request.';
}

/**
 * Our side failed while a charge (or a refund or capture of it) was under way, before its outcome
 * was recorded: the caller is told which charge is pending, so a retry or a look-up can follow it.
 */
export function pendingFailure(e: unknown, chargeId: string): unknown {
  if (e instanceof ApiError)
    return new ApiError(e.status, e.type, e.code, e.message, { ...e.extras, charge: chargeId });
  if (isDependencyFailure(e)) return dependencyUnavailable(chargeId);
  return e;
}
