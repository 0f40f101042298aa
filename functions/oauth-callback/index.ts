/**
 * Merchant onboarding, the two ways Clover sends a merchant's browser (clover-api.md §9.1):
 * - GET /v1/oauth/launch — the app's launch URL (Alternate Launch Path), with the merchant id only:
 *   302 to Clover's authorize page with a signed, single-use state bound to that merchant.
 * - GET /v1/oauth/callback — back from Clover with the code (and the state, after a launch).
 */
import { config } from '../../shared/config';
import { httpHandler } from '../../shared/http/handler';
import { sourceIp } from '../../shared/http/request';
import { json } from '../../shared/http/response';
import { install, launchUrl } from '../../shared/onboarding';
import { appConfig } from '../../shared/secrets/app-config';

export const handler = httpHandler({
  'GET /v1/oauth/launch': async ({ event }) => {
    const app = await appConfig();
    const location = launchUrl(event.queryStringParameters?.merchant_id, app, config.oauthRedirectUrl);
    return { statusCode: 302, headers: { Location: location }, body: '' };
  },
  'GET /v1/oauth/callback': async ({ event, requestId }) => {
    const q = event.queryStringParameters ?? {};
    const app = await appConfig();
    const result = await install(
      { merchant_id: q.merchant_id, client_id: q.client_id, code: q.code, state: q.state },
      app,
      { requestId, sourceIp: sourceIp(event) },
    );
    if (app.post_install_redirect) {
      const to = new URL(app.post_install_redirect);
      to.searchParams.set('merchant_id', result.merchant_id);
      return { statusCode: 302, headers: { Location: to.toString() }, body: '' };
    }
    return json(200, result);
  },
});
