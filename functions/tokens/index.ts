/**
 * POST /v1/tokens (publishable key) — the API-only path for PCI-certified integrators, and the
 * only function that ever sees a card number. It logs no event and no body, reads only the
 * merchant record (its role has no Secrets Manager access and no writes), and returns card data
 * reduced to first6/last4.
 */
import { httpHandler } from '../../shared/http/handler';
import { parseJsonObject } from '../../shared/http/request';
import { json } from '../../shared/http/response';
import { activeMerchant } from '../../shared/merchant-cache';
import { tokenize } from '../../shared/tokenize';

export const handler = httpHandler({
  'POST /v1/tokens': async ({ event, caller }) => {
    const body = parseJsonObject(event);
    const merchant = await activeMerchant(caller.merchantId);
    return json(201, await tokenize(body, merchant.pakms_key));
  },
});
