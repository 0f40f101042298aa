/**
 * The answers of money operations, rendered from their records: a resolved operation's answer is
 * the same status and body every time (its first definitive answer, replayed), and an unresolved
 * one's says why it is still pending, names the charge, and when to retry.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { CloverResult } from '../clover/client';
import { ApiError } from '../http/errors';
import { json, toResponse } from '../http/response';
import {
  type CaptureRecord,
  type ChargeRecord,
  chargeObject,
  type RefundRecord,
  refundObject,
  type StoredAnswer,
} from '../store/ledger';
import type { Lookup } from './evidence';

export function storedError(a: StoredAnswer, charge: string): APIGatewayProxyResult {
  return toResponse(
    new ApiError(a.status, a.type, a.code, a.message, {
      ...(a.param ? { param: a.param } : {}),
      ...(a.decline_code ? { decline_code: a.decline_code } : {}),
      charge,
    }),
    a.request_id,
  );
}

/** A resolved charge's answer, as it was when it was resolved (later captures and refunds left out). */
export function chargeAnswer(ch: ChargeRecord): APIGatewayProxyResult {
  if (ch.status === 'failed' && ch.answer) return storedError(ch.answer, ch.id);
  const { capture_lock: _lock, ...rest } = ch;
  return json(
    201,
    chargeObject({
      ...rest,
      status: 'succeeded',
      captured: ch.capture,
      amount_captured: ch.capture ? ch.amount : 0,
      amount_refunded: 0,
    }),
  );
}

/** A resolved capture's answer: the charge as the capture left it. */
export function captureAnswer(cap: CaptureRecord, ch: ChargeRecord): APIGatewayProxyResult {
  if (cap.status === 'failed' && cap.answer) return storedError(cap.answer, ch.id);
  const { capture_lock: _lock, ...rest } = ch;
  return json(
    200,
    chargeObject({ ...rest, status: 'succeeded', captured: true, amount_captured: cap.amount, amount_refunded: 0 }),
  );
}

export function refundAnswer(r: RefundRecord): APIGatewayProxyResult {
  if (r.status === 'failed' && r.answer) return storedError(r.answer, r.charge);
  return json(201, refundObject({ ...r, status: 'succeeded' }));
}

/** Why an operation is still pending after this request: what the caller is told. */
export interface PendingCause {
  readonly answer?: CloverResult<unknown>;
  readonly lookup?: Lookup;
}

/**
 * The answer to a request that leaves its operation pending: 502/503/504 when Clover failed or
 * could not be reached, 429 when it rate-limited us, 409 `outcome_pending` when Clover answered
 * but proved nothing yet (a re-send's ambiguous answer, a lookup that has not settled). Always
 * with the pending charge's id and Retry-After.
 */
export function pendingError(what: string, cause: PendingCause, charge: string, retryAfterS: number): ApiError {
  const a = cause.answer;
  const extras = { charge, retryAfter: retryAfterS };
  if (a?.kind === 'unreachable') {
    return new ApiError(
      503,
      'api_error',
      'clover_unreachable',
      `Clover could not be reached; the ${what} is pending. Retry with the same Idempotency-Key.`,
      extras,
    );
  }
  if (a?.kind === 'unknown') {
    const timeout = a.reason === 'timeout';
    return new ApiError(
      timeout ? 504 : 502,
      'api_error',
      timeout ? 'clover_timeout' : 'clover_connection_lost',
      `Clover's answer was lost (${timeout ? 'timed out' : 'connection dropped'}); the ${what} is pending. Retry with the same Idempotency-Key to learn its outcome.`,
      extras,
    );
  }
  if (a && a.kind !== 'ok' && a.status === 429) {
    return new ApiError(
      429,
      'rate_limit_error',
      'rate_limited',
      `Clover is rate limiting this merchant; the ${what} is pending. Retry with the same Idempotency-Key.`,
      {
        ...extras,
        retryAfter: Math.max(retryAfterS, a.retryAfter ?? 1),
      },
    );
  }
  if (a && a.kind !== 'ok' && (a.status === 401 || a.status === 403)) {
    return new ApiError(
      502,
      'api_error',
      'clover_unauthorized',
      `Clover refused this app’s authorization for the merchant; the ${what} is pending.`,
      extras,
    );
  }
  if (a && a.kind !== 'ok' && a.status >= 500) {
    return new ApiError(
      502,
      'api_error',
      'clover_error',
      `Clover failed (${a.status}); the ${what} is pending. Retry with the same Idempotency-Key.`,
      extras,
    );
  }
  return new ApiError(
    409,
    'idempotency_error',
    'outcome_pending',
    `The outcome of this ${what} at Clover is not known yet; retry with the same Idempotency-Key after Retry-After seconds.`,
    extras,
  );
}
