/** Charges: create (idempotent), read, list, capture (idempotent). Secret key only. */
import { ApiError, notFound } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { idempotent } from '../../shared/http/idempotent';
import { sourceIp } from '../../shared/http/request';
import { json } from '../../shared/http/response';
import { parseWith } from '../../shared/http/validate';
import { isChargeId } from '../../shared/ids';
import { activeMerchant } from '../../shared/merchant-cache';
import { captureOnce } from '../../shared/payments/capture';
import { createChargeOnce } from '../../shared/payments/charges';
import { CaptureSchema, CreateChargeSchema, moneyCodes } from '../../shared/payments/schemas';
import { chargeObject, getCharge, listCharges } from '../../shared/store/ledger';

export const handler = httpHandler({
  'POST /v1/charges': (ctx) =>
    idempotent(ctx, async (raw, ref) => {
      const body = parseWith(CreateChargeSchema, raw, { codes: moneyCodes });
      return createChargeOnce(
        ref,
        {
          source: body.source,
          amount: body.amount,
          currency: body.currency,
          capture: body.capture ?? true,
          description: body.description ?? null,
          external_reference_id: body.external_reference_id ?? null,
          forwardedFor: body.customer_ip ?? sourceIp(ctx.event),
        },
        () => activeMerchant(ref.merchantId),
      );
    }),

  'GET /v1/charges/{id}': async ({ params, caller }) => {
    const id = params.id ?? '';
    const charge = isChargeId(id) ? await getCharge(caller.merchantId, id) : null;
    if (!charge) throw notFound('charge');
    return json(200, chargeObject(charge));
  },

  'GET /v1/charges': async ({ event, caller }) => {
    const q = event.queryStringParameters ?? {};
    const limitText = q.limit ?? '10';
    if (!/^\d{1,3}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 100) {
      throw new ApiError(400, 'invalid_request_error', 'invalid_limit', 'limit must be an integer from 1 to 100.', {
        param: 'limit',
      });
    }
    const after = q.starting_after;
    if (after !== undefined && !isChargeId(after)) {
      throw new ApiError(400, 'invalid_request_error', 'invalid_cursor', 'starting_after must be a charge id.', {
        param: 'starting_after',
      });
    }
    const page = await listCharges(caller.merchantId, Number(limitText), after);
    return json(200, { object: 'list', data: page.data.map(chargeObject), has_more: page.hasMore });
  },

  'POST /v1/charges/{id}/capture': (ctx) =>
    idempotent(ctx, async (raw, ref) => {
      const body = parseWith(CaptureSchema, raw, { codes: { amount: 'invalid_amount' } });
      const id = ctx.params.id ?? '';
      if (!isChargeId(id)) throw notFound('charge');
      return captureOnce(ref, id, body.amount, sourceIp(ctx.event), () => activeMerchant(ref.merchantId));
    }),
});
