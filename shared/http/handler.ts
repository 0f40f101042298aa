import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { config } from '../config';
import { logger } from '../log';
import type { Route } from '../routes';
import { keyAllowed, matchRoute } from '../routes';
import { ApiError, authenticationError, permissionError } from './errors';
import { isApiError, json, SECURITY_HEADERS, toResponse } from './response';

export type KeyKind = 'publishable' | 'secret';

/** What the authorizer resolved the caller's key to (API Gateway passes it as `requestContext.authorizer`). */
export interface Caller {
  readonly merchantId: string;
  readonly keyKind: KeyKind;
  readonly keyId: string;
}

export interface RequestContext {
  readonly event: APIGatewayProxyEvent;
  readonly requestId: string;
  readonly route: Route;
  readonly params: Record<string, string>;
}

export interface AuthedContext extends RequestContext {
  readonly caller: Caller;
}

function callerOf(event: APIGatewayProxyEvent): Caller | null {
  const a = event.requestContext?.authorizer as Record<string, unknown> | null | undefined;
  if (!a || typeof a.merchant_id !== 'string' || (a.key_kind !== 'publishable' && a.key_kind !== 'secret')) return null;
  return { merchantId: a.merchant_id, keyKind: a.key_kind, keyId: String(a.key_id ?? '') };
}

type Result = APIGatewayProxyResult;

/**
 * Wraps a function's route handlers: finds the route in the shared table, enforces the key kind
 * (403 for a publishable key on a secret route), maps every error to the API's error shape, and
 * stamps `Request-Id`. An unexpected exception becomes a 500 whose log line carries no body.
 */
export function httpHandler(handlers: Partial<Record<string, (ctx: AuthedContext) => Promise<Result>>>) {
  return async (event: APIGatewayProxyEvent): Promise<Result> => {
    const requestId = event.requestContext?.requestId ?? 'unknown';
    let result: Result;
    try {
      result = await dispatch(event, requestId, handlers);
    } catch (e) {
      if (isApiError(e)) {
        result = toResponse(e, requestId);
      } else if (isDependencyFailure(e)) {
        logger.warn('a dependency failed', { requestId, error: (e as Error)?.name, message: (e as Error)?.message });
        result = toResponse(dependencyUnavailable(), requestId);
      } else {
        logger.error('unhandled error', { requestId, error: (e as Error)?.name, message: (e as Error)?.message });
        result = toResponse(new ApiError(500, 'api_error', 'internal_error', 'An internal error occurred.'), requestId);
      }
    }
    result.headers = { ...result.headers, ...corsHeaders(event), ...SECURITY_HEADERS, 'Request-Id': requestId };
    return result;
  };
}

/**
 * An AWS service (DynamoDB, Secrets Manager) or the network failed, not our code: the request may
 * be retried, so it is a 503 with Retry-After, not a 500. AWS SDK errors carry `$metadata`.
 */
export function isDependencyFailure(e: unknown): boolean {
  const err = e as { $metadata?: unknown; name?: string; code?: string; cause?: { code?: string } } | null;
  if (!err || typeof err !== 'object') return false;
  if (err.$metadata !== undefined) return true;
  const code = err.code ?? err.cause?.code ?? '';
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code) ||
    err.name === 'TimeoutError'
  );
}

export const dependencyUnavailable = (charge?: string): ApiError =>
  new ApiError(503, 'api_error', 'service_unavailable', 'A service this request needs is unavailable; retry shortly.', {
    retryAfter: 1,
    ...(charge ? { charge } : {}),
  });

/** API Gateway answers CORS preflights; the actual responses must carry the allowed origin too. */
function corsHeaders(event: APIGatewayProxyEvent): Record<string, string> {
  const allowed = config.corsAllowedOrigins;
  if (allowed.length === 0) return {};
  const origin = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'origin')?.[1];
  if (!origin || !allowed.includes(origin)) return { Vary: 'Origin' };
  return { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
}

async function dispatch(
  event: APIGatewayProxyEvent,
  requestId: string,
  handlers: Partial<Record<string, (ctx: AuthedContext) => Promise<Result>>>,
): Promise<Result> {
  const path = event.resource && event.resource !== '/{proxy+}' ? event.resource : event.path;
  const found = matchRoute(event.httpMethod, path);
  if (!found || 'methodNotAllowed' in found) {
    return json(404, { error: { type: 'invalid_request_error', code: 'route_not_found', message: 'No such route.' } });
  }
  const key = `${found.route.method} ${found.route.path}`;
  const fn = handlers[key];
  if (!fn) throw new ApiError(500, 'api_error', 'route_not_wired', 'This route is not served by this function.');
  const params = event.pathParameters ?? found.pathParameters ?? {};
  let caller: Caller = { merchantId: '', keyKind: 'secret', keyId: '' };
  if (found.route.key !== 'none') {
    const c = callerOf(event);
    if (!c) throw authenticationError();
    if (!keyAllowed(found.route, c.keyKind)) throw permissionError();
    caller = c;
  }
  return fn({ event, requestId, route: found.route, params: params as Record<string, string>, caller });
}
