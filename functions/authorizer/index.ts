/**
 * The Lambda REQUEST authorizer: resolves `Authorization: Bearer <key>` to `{merchant, kind}`.
 * It allows the whole stage (API Gateway caches the answer per key, across routes); whether the
 * key's kind may call a route is decided by the route's handler from the shared route table, so
 * that the refusal is our 403 `permission_error`. Unknown, malformed, revoked keys, keys of the
 * other mode (live on a sandbox deployment) and keys of a disabled merchant are refused: 401.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { keyMode } from '../../shared/clover/hosts';
import { logger } from '../../shared/log';
import { findApiKey, parseKey } from '../../shared/store/api-keys';
import { getMerchant } from '../../shared/store/merchants';

export const handler = async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const header = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'authorization')?.[1] ?? '';
  const key = /^Bearer ([^\s]+)$/.exec(header.trim())?.[1];
  const shape = key ? parseKey(key) : null;
  if (!key || !shape) throw new Error('Unauthorized');
  const record = await findApiKey(key);
  if (!record || record.revoked_at || record.mode !== keyMode() || record.kind !== shape.kind) {
    throw new Error('Unauthorized');
  }
  const merchant = await getMerchant(record.merchant_id);
  if (!merchant || merchant.status === 'disabled') throw new Error('Unauthorized');
  logger.debug('key resolved', { merchantId: record.merchant_id, keyId: record.key_id });
  // arn:aws:execute-api:region:account:apiId/stage/METHOD/path → allow every route of this stage.
  const [arnBase, stage] = event.methodArn.split('/');
  return {
    principalId: record.merchant_id,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${arnBase}/${stage}/*` }],
    },
    context: { merchant_id: record.merchant_id, key_kind: record.kind, key_id: record.key_id },
  };
};
