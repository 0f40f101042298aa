/**
 * Errors are values with a stable `code`; `toResponse` in ./response.ts is the one place that maps
 * them to HTTP. Messages are safe to show a shopper: never a card number, key, token or stack.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'card_error'
  | 'idempotency_error'
  | 'rate_limit_error'
  | 'api_error';

export interface ApiErrorExtras {
  readonly param?: string;
  readonly decline_code?: string;
  readonly charge?: string;
  /** Seconds, sent as Retry-After. */
  readonly retryAfter?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    readonly code: string,
    message: string,
    readonly extras: ApiErrorExtras = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const invalidRequest = (code: string, message: string, param?: string): ApiError =>
  new ApiError(400, 'invalid_request_error', code, message, param ? { param } : {});

export const notFound = (what: string, param = 'id'): ApiError =>
  new ApiError(404, 'invalid_request_error', 'resource_missing', `No such ${what}.`, { param });

export const conflict = (code: string, message: string): ApiError =>
  new ApiError(409, 'invalid_request_error', code, message);

export const authenticationError = (message = 'Invalid API key provided.'): ApiError =>
  new ApiError(401, 'authentication_error', 'invalid_api_key', message);

export const permissionError = (): ApiError =>
  new ApiError(
    403,
    'permission_error',
    'secret_key_required',
    'This route needs a secret key; a publishable key may not call it.',
  );

export const apiError = (status: 500 | 502 | 503 | 504, code: string, message: string, charge?: string): ApiError =>
  new ApiError(status, 'api_error', code, message, charge ? { charge } : {});

export const needsReauth = (): ApiError =>
  new ApiError(
    503,
    'api_error',
    'merchant_needs_reauth',
    "The merchant's Clover authorization has expired; the merchant must reopen the app in Clover to re-authorize it.",
  );
