/**
 * The OAuth `state` of the launch flow (GET /v1/oauth/launch → Clover's /oauth/v2/authorize →
 * GET /v1/oauth/callback): signed, short-lived, single-use and bound to one merchant.
 *
 *   state = "v1." + base64url(JSON {m: merchant id, n: nonce, e: expiry epoch s}) + "." + base64url(HMAC)
 *
 * - Signed with HMAC-SHA256 under a key derived from the app's client secret (which only the
 *   onboarding function reads), so nobody without that secret can make one: a forged or altered
 *   state fails the MAC.
 * - Short-lived: STATE_TTL_S, the lifetime of Clover's authorization codes.
 * - Bound to the merchant it was made for: the callback refuses it with any other `merchant_id`.
 * - Single-use: the callback records the nonce with a conditional write (shared/store/oauth-states.ts)
 *   before it exchanges the code, so a replayed state is refused even while it is unexpired.
 *
 * Pure functions; time is injected.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const STATE_TTL_S = 600;
const VERSION = 'v1';
const MAX_STATE_LENGTH = 512;

export interface StatePayload {
  /** The merchant the launch was for. */
  readonly m: string;
  /** Random nonce: what makes the state single-use. */
  readonly n: string;
  /** Expiry, epoch seconds. */
  readonly e: number;
}

export type StateCheck =
  | { readonly ok: true; readonly payload: StatePayload }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad_signature' | 'expired' | 'wrong_merchant' };

/** The signing key: HMAC of a fixed label under the client secret, so the secret itself is never the key. */
function stateKey(clientSecret: string): Buffer {
  return createHmac('sha256', clientSecret).update('clover-payments/oauth-state/v1').digest();
}

export function makeState(merchantId: string, clientSecret: string, now = Date.now()): string {
  const payload: StatePayload = {
    m: merchantId,
    n: randomBytes(16).toString('base64url'),
    e: Math.floor(now / 1000) + STATE_TTL_S,
  };
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const mac = createHmac('sha256', stateKey(clientSecret)).update(`${VERSION}.${body}`).digest('base64url');
  return `${VERSION}.${body}.${mac}`;
}

/** Checks signature, expiry and merchant. Single use is the caller's second step (it needs the table). */
export function verifyState(state: string, merchantId: string, clientSecret: string, now = Date.now()): StateCheck {
  if (state.length > MAX_STATE_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = state.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !parts[1] || !parts[2]) return { ok: false, reason: 'malformed' };
  const expected = createHmac('sha256', stateKey(clientSecret)).update(`${VERSION}.${parts[1]}`).digest();
  const given = Buffer.from(parts[2], 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad_signature' };
  }
  let payload: StatePayload;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as StatePayload;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof payload?.m !== 'string' || typeof payload.n !== 'string' || typeof payload.e !== 'number') {
    return { ok: false, reason: 'malformed' };
  }
  if (payload.e * 1000 <= now) return { ok: false, reason: 'expired' };
  if (payload.m !== merchantId) return { ok: false, reason: 'wrong_merchant' };
  return { ok: true, payload };
}
