/** POST /v1/refunds (secret key, idempotent). */
import { notFound } from '../../shared/http/errors';
import { httpHandler } from '../../shared/http/handler';
import { idempotent } from '../../shared/http/idempotent';
import { parseWith } from '../../shared/http/validate';
import { isChargeId } from '../../shared/ids';
import { activeMerchant } from '../../shared/merchant-cache';
import { refundOnce } from '../../shared/payments/refunds';
import { RefundSchema } from '../../shared/payments/schemas';

export const handler = httpHandler({
  'POST /v1/refunds': (ctx) =>
    idempotent(ctx, async (raw, ref) => {
      const body = parseWith(RefundSchema, raw, { codes: { amount: 'invalid_amount' } });
      if (!isChargeId(body.charge)) throw notFound('charge', 'charge');
      return refundOnce(ref, { charge: body.charge, amount: body.amount, reason: body.reason }, () =>
        activeMerchant(ref.merchantId),
      );
    }),
});
