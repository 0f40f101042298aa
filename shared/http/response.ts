import type { APIGatewayProxyResult } from 'aws-lambda';
import { ApiError } from './errors';

export const jsonHeaders = { 'Content-Type': 'application/json' } as const;

/**
 * On every answer of the API — the functions' (shared/http/handler.ts), API Gateway's own
 * (Gateway Responses, infra/api.ts) and WAF's (infra/waf.ts): answers carry PAKMS keys, client
 * secrets and charges, so no browser or proxy cache may keep them, and a browser must not sniff a
 * JSON body into something it would render or run.
 */
export const SECURITY_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
} as const;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode: status, headers: { ...jsonHeaders, ...headers }, body: JSON.stringify(body) };
}

export function errorBody(err: ApiError, requestId: string): Record<string, unknown> {
  const { retryAfter: _r, ...extras } = err.extras;
  return { error: { type: err.type, code: err.code, message: err.message, ...extras, request_id: requestId } };
}

/** The one place that turns an error value into an HTTP response. */
export function toResponse(err: ApiError, requestId: string): APIGatewayProxyResult {
  const headers: Record<string, string> = { 'Request-Id': requestId };
  if (err.extras.retryAfter !== undefined) headers['Retry-After'] = String(err.extras.retryAfter);
  return json(err.status, errorBody(err, requestId), headers);
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}
