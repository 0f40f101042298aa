// The platform REST API's merchant read, `GET /v3/merchants/{mId}` (clover-api.md §9.1): what an
// app calls with a new access token to prove which merchant the token belongs to. A token (OAuth
// or a dashboard private key) reads only its own merchant; any other id answers 401, as Clover
// answers a missing permission (§13.2: never 403).

import type { Principal } from './auth';
import type { Emu } from './context';
import { type Reply, unauthorized } from './errors';
import type { ApiRequest } from './http';

export function getMerchant(emu: Emu, _req: ApiRequest, principal: Principal, merchantId: string): Reply {
  const merchant = emu.store.merchants.get(merchantId);
  if (!merchant || principal.merchant_id !== merchantId) throw unauthorized();
  return {
    status: 200,
    body: {
      href: `/v3/merchants/${merchant.merchant_id}`,
      id: merchant.merchant_id,
      name: `Emulator merchant ${merchant.merchant_id}`,
      createdTime: merchant.created,
    },
  };
}

/** Mounted by index.ts beside Clover's other hosts' routes. */
export const merchantRoutes = [
  { method: 'GET', pattern: /^\/v3\/merchants\/([^/]+)$/, auth: 'bearer' as const, handle: getMerchant },
];
