// Plumbing shared by the payment tests: a fresh merchant per file (its own Clover rate-limit budget
// and its own ledger partition), charges made the way a storefront makes them, and the emulator's
// view of what Clover actually did for that merchant.

import { api, cardToken, cloverRequests, emulator, newKey, type newMerchant, type Res } from '../../helpers/platform';

export type Merchant = Awaited<ReturnType<typeof newMerchant>>;

/** Sandbox cards (clover-api.md §8). */
export const CARDS = {
  visa: '4242424242424242',
  amex: '378282246310005',
  decline: '4005571702222222',
} as const;

export const expYear = () => String(new Date().getUTCFullYear() + 3);

/** A token for `number`, made with the merchant's publishable key. */
export const tokenFor = (m: Merchant, number: string = CARDS.visa) => cardToken(number, m.publishable_key);

/** POST /v1/charges with a fresh token and key, as a storefront's server does. */
export async function charge(
  m: Merchant,
  body: Record<string, unknown> = {},
  opts: { number?: string; idem?: string } = {},
): Promise<Res> {
  const source = await tokenFor(m, opts.number);
  return api('POST', '/v1/charges', {
    key: m.secret_key,
    idem: opts.idem ?? newKey(),
    body: { source, amount: 1000, currency: 'usd', ...body },
  });
}

/** A succeeded charge's id; fails the test with the body otherwise. */
export async function chargeId(m: Merchant, body: Record<string, unknown> = {}): Promise<string> {
  const r = await charge(m, body);
  if (r.status !== 201) throw new Error(`charge failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id as string;
}

/** The charges Clover actually made for this merchant (declined ones included), newest first. */
export async function cloverCharges(merchantId: string): Promise<Record<string, any>[]> {
  return (await emulator('GET', `/_emulator/charges?merchant_id=${merchantId}`)).body;
}

/** Requests Clover received for this merchant under a path prefix. */
export async function cloverRequestsOf(merchantId: string, prefix: string) {
  return (await cloverRequests(prefix)).filter((r) => r.merchant_id === merchantId);
}

/** An error body without its request id, to compare two answers that must be the same. */
export function sansRequestId(body: Record<string, any>): Record<string, any> {
  const { request_id: _r, ...error } = body.error ?? {};
  return { ...body, error };
}

/** A well-formed id of ours that names nothing. */
export const missingId = (prefix: 'ch' | 'cs') => `${prefix}_${'0'.repeat(23)}`;

export const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
