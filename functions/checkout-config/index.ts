/**
 * GET /v1/checkout-config (publishable key): what a storefront page needs to start Clover's
 * hosted iframe — `new Clover(api_access_key, { merchantId })`. Warm, it touches nothing but the
 * container's cache.
 */
import { deploymentEnvironment, deploymentHosts } from '../../shared/clover/hosts';
import { httpHandler } from '../../shared/http/handler';
import { json } from '../../shared/http/response';
import { activeMerchant } from '../../shared/merchant-cache';

export const handler = httpHandler({
  'GET /v1/checkout-config': async ({ caller }) => {
    const m = await activeMerchant(caller.merchantId);
    return json(200, {
      merchant_id: m.merchant_id,
      api_access_key: m.pakms_key,
      environment: deploymentEnvironment(),
      sdk_url: deploymentHosts().sdk_url,
    });
  },
});
