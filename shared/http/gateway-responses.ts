import { SECURITY_HEADERS } from './response';

/**
 * Bodies of the responses API Gateway itself sends when the authorizer refuses a caller. The CDK
 * stack installs them as Gateway Responses and the local gateway sends the same, so a 401 or 403
 * looks like every other error of the API. `$context.requestId` is API Gateway's own variable.
 */
export const gatewayResponses = {
  UNAUTHORIZED: {
    status: 401,
    body: {
      error: {
        type: 'authentication_error',
        code: 'invalid_api_key',
        message: 'Invalid or missing API key. Send it as "Authorization: Bearer <key>".',
        request_id: '$context.requestId',
      },
    },
  },
  ACCESS_DENIED: {
    status: 403,
    body: {
      error: {
        type: 'permission_error',
        code: 'access_denied',
        message: 'This key may not call this route.',
        request_id: '$context.requestId',
      },
    },
  },
  THROTTLED: {
    status: 429,
    body: {
      error: {
        type: 'rate_limit_error',
        code: 'rate_limited',
        message: 'Too many requests for this merchant; retry after a second.',
        request_id: '$context.requestId',
      },
    },
  },
  /** The authorizer itself failed (its DynamoDB read, say): retryable, so 503, not API Gateway's 500. */
  AUTHORIZER_FAILURE: {
    status: 503,
    body: {
      error: {
        type: 'api_error',
        code: 'service_unavailable',
        message: 'The API key could not be checked right now; retry shortly.',
        request_id: '$context.requestId',
      },
    },
  },
  /** A function crashed or timed out before answering. */
  DEFAULT_5XX: {
    status: 502,
    body: {
      error: {
        type: 'api_error',
        code: 'internal_error',
        message: 'The request could not be completed; retry shortly (with the same Idempotency-Key for a payment).',
        request_id: '$context.requestId',
      },
    },
  },
} as const;

/**
 * Gateway Responses whose body stays API Gateway's own (`{"message": …}`) but which get our
 * headers: DEFAULT_4XX covers every other refusal API Gateway makes itself (no such route,
 * request too large, bad request parameters), so that no answer goes out without them.
 */
export const headerOnlyGatewayResponses = ['DEFAULT_4XX'] as const;

export type GatewayResponseType = keyof typeof gatewayResponses | (typeof headerOnlyGatewayResponses)[number];

/**
 * The headers of a Gateway Response, as values (infra/api.ts quotes them into mapping
 * expressions; the local gateway sends them as they are).
 *
 * CORS: a Gateway Response cannot choose its headers per request, so it can only echo the
 * request's Origin (any page's — which would let every site read these answers) or name one
 * origin. It names the stage's storefront origin when there is exactly one; with several, Gateway
 * Responses carry no CORS header and a page sees a refused key as a network error (the functions'
 * own answers still allow each listed origin, shared/http/handler.ts).
 */
export function gatewayResponseHeaders(
  type: GatewayResponseType,
  storefrontOrigins: readonly string[],
): Record<string, string> {
  const headers: Record<string, string> = { ...SECURITY_HEADERS };
  if (type === 'THROTTLED') headers['Retry-After'] = '1';
  if (storefrontOrigins.length === 1) {
    headers['Access-Control-Allow-Origin'] = storefrontOrigins[0]!;
    headers.Vary = 'Origin';
  }
  return headers;
}

/** How long API Gateway caches an authorizer's answer for one Authorization header. */
export const authorizerCacheTtlSeconds = 300;

export function renderGatewayBody(kind: keyof typeof gatewayResponses, requestId: string): string {
  return JSON.stringify(gatewayResponses[kind].body).replaceAll('$context.requestId', requestId);
}
