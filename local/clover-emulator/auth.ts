// Who is calling (clover-api.md §2, §13.2). The token host takes only an `apikey` header (a PAKMS
// key or a merchant's dashboard public key); SCL and the platform take only `Authorization: Bearer`
// (an OAuth access token or the merchant's dashboard private key). Anything else is a 401.

import { type ApiRequest, header } from './http';
import type { Store } from './state';

export interface Principal {
  merchant_id: string;
  /** The OAuth app behind the credential; null for a merchant's own dashboard keys. */
  app_id: string | null;
  kind: 'oauth' | 'private_key' | 'pakms' | 'public_key';
  /** The credential itself, for per-token rate limits. Never logged. */
  credential: string;
}

export function bearerCredential(req: ApiRequest): string | null {
  const value = header(req, 'authorization');
  const match = value ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  return match?.[1] ?? null;
}

export function bearerPrincipal(store: Store, req: ApiRequest, now: number): Principal | null {
  const credential = bearerCredential(req);
  if (!credential) return null;
  const token = store.accessTokens.get(credential);
  if (token) {
    if (token.revoked || token.expires_at <= now) return null;
    if (!store.merchants.has(token.merchant_id)) return null;
    return { merchant_id: token.merchant_id, app_id: token.client_id, kind: 'oauth', credential };
  }
  for (const merchant of store.merchants.values()) {
    if (merchant.private_key === credential) {
      return { merchant_id: merchant.merchant_id, app_id: null, kind: 'private_key', credential };
    }
  }
  return null;
}

export function apikeyPrincipal(store: Store, req: ApiRequest): Principal | null {
  const credential = header(req, 'apikey')?.trim();
  if (!credential) return null;
  for (const key of store.pakms.values()) {
    if (key.apiAccessKey === credential) {
      if (!key.active || !store.merchants.has(key.merchant_id)) return null;
      return { merchant_id: key.merchant_id, app_id: key.app_id, kind: 'pakms', credential };
    }
  }
  for (const merchant of store.merchants.values()) {
    if (merchant.public_key === credential) {
      return { merchant_id: merchant.merchant_id, app_id: null, kind: 'public_key', credential };
    }
  }
  return null;
}
