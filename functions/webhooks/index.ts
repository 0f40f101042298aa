/** POST /v1/webhooks/clover — Clover's app webhooks, authenticated by the static X-Clover-Auth code. */
import { ApiError } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { header, parseJsonObject } from '../../shared/http/request';
import { json } from '../../shared/http/response';
import { emitMetric } from '../../shared/metrics';
import { appConfig } from '../../shared/secrets/app-config';
import { takeVerificationSlot } from '../../shared/store/webhook-verifications';
import { handleWebhook, logVerificationCode, verificationCodeOf, webhookAuth } from '../../shared/webhooks';

/** Before refusing, the app secret is re-read (at most once per this many seconds): a code just set or rotated counts at once. */
const REFETCH_AFTER_S = 5;

export const handler = httpHandler({
  'POST /v1/webhooks/clover': async ({ event }) => {
    const body = parseJsonObject(event);
    const given = header(event, 'x-clover-auth');
    let auth = webhookAuth((await appConfig()).webhook_auth_code, given);
    if (auth !== 'authenticated')
      auth = webhookAuth((await appConfig({ refetchAfterS: REFETCH_AFTER_S })).webhook_auth_code, given);

    if (auth === 'authenticated') return json(200, { received: true, ...(await handleWebhook(body)) });

    // The set-up handshake comes before Clover has issued the auth code: taken only while none is
    // configured, a few a minute, one log line each.
    const verification = verificationCodeOf(body);
    if (auth === 'unconfigured' && verification !== null) {
      if (!(await takeVerificationSlot())) {
        throw new ApiError(
          429,
          'rate_limit_error',
          'rate_limited',
          'Too many verification requests; retry in a minute.',
          {
            retryAfter: 60,
          },
        );
      }
      logVerificationCode(verification);
      return json(200, { received: true, verification: true, uninstalled: [], ignored: 0 });
    }
    emitMetric('WebhookAuthFailures');
    throw new ApiError(401, 'authentication_error', 'invalid_webhook_auth', 'X-Clover-Auth is missing or wrong.');
  },
});
