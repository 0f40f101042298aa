import { APIGatewayClient, FlushStageAuthorizersCacheCommand } from '@aws-sdk/client-api-gateway';
import { requestHandler } from './aws';
import { config } from './config';
import { logger } from './log';

/**
 * API Gateway caches the authorizer's answer per key for a few minutes. When keys stop working
 * (revocation, app uninstall) the stage's cache is flushed so that they stop at once, not when
 * the cache entry expires.
 */
/** Only the functions that revoke keys import this module, so only their bundles carry this client. */
const apiGateway = new APIGatewayClient({ maxAttempts: 2, requestHandler });

export async function flushAuthorizerCache(): Promise<void> {
  if (!config.restApiId || !config.stageName) {
    logger.warn(
      'REST_API_ID/STAGE_NAME not set: authorizer cache not flushed; revoked keys work until the cache expires',
    );
    return;
  }
  await apiGateway.send(
    new FlushStageAuthorizersCacheCommand({ restApiId: config.restApiId, stageName: config.stageName }),
  );
}
