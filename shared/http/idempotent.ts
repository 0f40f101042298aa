import type { APIGatewayProxyResult } from 'aws-lambda';
import { requestHash, validateIdempotencyKey } from '../idempotency';
import type { ClaimRef } from '../payments/charges';
import type { AuthedContext } from './handler';
import { header, parseJsonObject } from './request';

/**
 * The common front of every money-moving POST: the Idempotency-Key (checked before anything
 * else), the body as a JSON object, and the claim reference (merchant + route + key + hash).
 */
export async function idempotent(
  ctx: AuthedContext,
  run: (body: Record<string, unknown>, ref: ClaimRef) => Promise<APIGatewayProxyResult>,
): Promise<APIGatewayProxyResult> {
  const clientKey = validateIdempotencyKey(header(ctx.event, 'idempotency-key'));
  const body = parseJsonObject(ctx.event);
  const routeKey = `${ctx.route.method} ${ctx.route.path}`;
  return run(body, {
    merchantId: ctx.caller.merchantId,
    routeKey,
    clientKey,
    hash: requestHash(routeKey, ctx.params, body),
    requestId: ctx.requestId,
  });
}
