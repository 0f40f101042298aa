/** GET /v1/oauth/callback — Clover sends the merchant's browser here after an install. */
import { httpHandler } from '../../shared/http/handler';
import { json } from '../../shared/http/response';
import { install } from '../../shared/onboarding';
import { appConfig } from '../../shared/secrets/app-config';

export const handler = httpHandler({
  'GET /v1/oauth/callback': async ({ event, requestId }) => {
    const q = event.queryStringParameters ?? {};
    const app = await appConfig();
    const result = await install({ merchant_id: q.merchant_id, client_id: q.client_id, code: q.code }, app, requestId);
    if (app.post_install_redirect) {
      const to = new URL(app.post_install_redirect);
      to.searchParams.set('merchant_id', result.merchant_id);
      return { statusCode: 302, headers: { Location: to.toString() }, body: '' };
    }
    return json(200, result);
  },
});
