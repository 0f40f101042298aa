/** Checkout sessions: create and read (secret key); pay (publishable key, idempotent). */
import { invalidRequest, notFound } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { idempotent } from '../../shared/http/idempotent';
import { parseJsonObject, sourceIp } from '../../shared/http/request';
import { json } from '../../shared/http/response';
import { parseWith } from '../../shared/http/validate';
import { isSessionId } from '../../shared/ids';
import { activeMerchant } from '../../shared/merchant-cache';
import { CreateSessionSchema, moneyCodes, PaySessionSchema } from '../../shared/payments/schemas';
import { createSession, paySession, sessionWithCharge } from '../../shared/payments/sessions';
import { sessionObject } from '../../shared/store/ledger';

export const handler = httpHandler({
  'POST /v1/checkout-sessions': async ({ event, caller }) => {
    const body = parseWith(CreateSessionSchema, parseJsonObject(event), { codes: moneyCodes });
    await activeMerchant(caller.merchantId);
    const session = await createSession(caller.merchantId, {
      amount: body.amount,
      currency: body.currency,
      description: body.description ?? null,
      external_reference_id: body.external_reference_id ?? null,
      capture: body.capture ?? true,
    });
    return json(201, sessionObject(session, true));
  },

  'GET /v1/checkout-sessions/{id}': async ({ params, caller }) => {
    const id = params.id ?? '';
    const found = isSessionId(id) ? await sessionWithCharge(caller.merchantId, id) : null;
    if (!found) throw notFound('checkout session');
    return json(200, sessionObject(found.session, true, found.charge));
  },

  'POST /v1/checkout-sessions/{id}/pay': (ctx) =>
    idempotent(ctx, async (raw, ref) => {
      // A browser's route: the shopper's IP is the connection's, never the caller's claim
      // (a card tester would choose the IP Clover's fraud checks see).
      if (Object.hasOwn(raw, 'customer_ip')) {
        throw invalidRequest(
          'parameter_not_allowed',
          'customer_ip may not be set on a publishable-key route: the shopper’s IP is the connection’s.',
          'customer_ip',
        );
      }
      const body = parseWith(PaySessionSchema, raw, { codes: { source: 'invalid_source' } });
      const id = ctx.params.id ?? '';
      if (!isSessionId(id)) throw notFound('checkout session');
      const ip = sourceIp(ctx.event);
      return paySession(
        ref,
        id,
        {
          client_secret: body.client_secret,
          source: body.source,
          forwardedFor: ip,
          velocity: { key: ctx.caller.keyId, ip },
        },
        () => activeMerchant(ref.merchantId),
      );
    }),
});
