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

/** How long API Gateway caches an authorizer's answer for one Authorization header. */
export const authorizerCacheTtlSeconds = 300;

export function renderGatewayBody(kind: keyof typeof gatewayResponses, requestId: string): string {
  return JSON.stringify(gatewayResponses[kind].body).replaceAll('$context.requestId', requestId);
}
