/** POST /v1/webhooks/clover — Clover's app webhooks, authenticated by the static X-Clover-Auth code. */
import { ApiError } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { header, parseJsonObject } from '../../shared/http/request';
import { json } from '../../shared/http/response';
import { emitMetric } from '../../shared/metrics';
import { appConfig } from '../../shared/secrets/app-config';
import { takeVerificationSlot } from '../../shared/store/webhook-verifications';
import { handleWebhook, logVerificationCode, verificationCodeOf, webhookAuth } from '../../shared/webhooks';

/** At most one forced re-read of the app secret per container per this many seconds, however many requests are refused. */
const REFETCH_AFTER_S = 5;

export const handler = httpHandler({
  'POST /v1/webhooks/clover': async ({ event }) => {
    const body = parseJsonObject(event);
    const given = header(event, 'x-clover-auth');
    const verification = verificationCodeOf(body);
    let auth = webhookAuth((await appConfig()).webhook_auth_code, given);
    // Before refusing a request that could be right with a newer app secret — it presents a code
    // (ops may just have set or rotated it), or it is the handshake while a code is cached (ops may
    // just have emptied it to re-verify) — re-read the secret, at most once per REFETCH_AFTER_S.
    if ((given !== undefined && auth !== 'authenticated') || (verification !== null && auth === 'refused')) {
      auth = webhookAuth((await appConfig({ refetchAfterS: REFETCH_AFTER_S })).webhook_auth_code, given);
    }

    if (auth === 'authenticated') return json(200, { received: true, ...(await handleWebhook(body)) });

    // The set-up handshake comes before Clover has issued the auth code: taken only while none is
    // configured, a few a minute, one log line each.
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
