// Clover's error bodies (clover-api.md §7.2, §13.18): a top-level `message` beside an `error`
// object; 401s are a bare `{message}`. Handlers throw ApiError; the router turns it into a reply.

export interface ErrorDetail {
  type?: string;
  code: string;
  message: string;
  param?: string;
  decline_code?: string;
  charge?: string;
}

export interface Reply {
  status: number;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as text/plain instead of `body` (a fault's canned non-JSON answer). */
  text?: string;
  headers?: Record<string, string>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }

  toReply(): Reply {
    return { status: this.status, body: this.body, headers: this.headers };
  }
}

export function errorBody(detail: ErrorDetail): { message: string; error: ErrorDetail } {
  const error: ErrorDetail = { ...detail };
  for (const key of Object.keys(error) as (keyof ErrorDetail)[]) {
    if (error[key] === undefined) delete error[key];
  }
  return { message: detail.message, error };
}

export function cloverError(status: number, detail: ErrorDetail, headers?: Record<string, string>): ApiError {
  return new ApiError(status, errorBody(detail), headers);
}

export const unauthorized = (): ApiError => new ApiError(401, { message: '401 Unauthorized' });

export const notFound = (): ApiError => new ApiError(404, { message: '404 Not Found' });

export const methodNotAllowed = (): ApiError => new ApiError(405, { message: '405 Method Not Allowed' });

export function invalidRequest(message: string, param?: string): ApiError {
  return cloverError(400, { type: 'invalid_request_error', code: 'invalid_request', message, param });
}

export function requestError(code: string, message: string, param?: string, status = 400): ApiError {
  return cloverError(status, { type: 'invalid_request_error', code, message, param });
}

export function cardError(code: string, message: string, param?: string): ApiError {
  return cloverError(400, { type: 'card_error', code, message, param });
}

export function resourceMissing(what: string, id: string, param?: string, status = 404): ApiError {
  return cloverError(status, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    message: `No such ${what}: '${id}'`,
    param,
  });
}
