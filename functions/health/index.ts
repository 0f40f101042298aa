import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/**
 * GET /health: no key, no I/O, no error path — so none of the shared HTTP layer (and its logger)
 * is loaded: a health check should cost nothing at cold start.
 */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => ({
  statusCode: 200,
  headers: {
    'Content-Type': 'application/json',
    // The same as shared/http/response.ts SECURITY_HEADERS (not imported: this bundle stays empty).
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Request-Id': event.requestContext?.requestId ?? 'unknown',
  },
  body: '{"status":"ok"}',
});
