import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/**
 * GET /health: no key, no I/O, no error path — so none of the shared HTTP layer (and its logger)
 * is loaded: a health check should cost nothing at cold start.
 */
export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => ({
  statusCode: 200,
  headers: { 'Content-Type': 'application/json', 'Request-Id': event.requestContext?.requestId ?? 'unknown' },
  body: '{"status":"ok"}',
});
