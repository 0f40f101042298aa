/** POST /v1/webhooks/clover — Clover's app webhooks, authenticated by the static X-Clover-Auth code. */
import { ApiError } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { header, parseJsonObject } from '../../shared/http/request';
import { json } from '../../shared/http/response';
import { appConfig } from '../../shared/secrets/app-config';
import { secretsEqual } from '../../shared/secure-compare';
import { handleWebhook } from '../../shared/webhooks';

export const handler = httpHandler({
  'POST /v1/webhooks/clover': async ({ event }) => {
    const app = await appConfig();
    const body = parseJsonObject(event);
    const isVerification = typeof body.verificationCode === 'string' && Object.keys(body).length === 1;
    // The verification POST comes before Clover has issued the auth code; everything else must carry it.
    if (!isVerification) {
      const given = header(event, 'x-clover-auth') ?? '';
      if (!app.webhook_auth_code || !secretsEqual(given, app.webhook_auth_code)) {
        throw new ApiError(401, 'authentication_error', 'invalid_webhook_auth', 'X-Clover-Auth is missing or wrong.');
      }
    }
    const outcome = await handleWebhook(body);
    return json(200, { received: true, ...outcome });
  },
});
