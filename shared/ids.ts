/**
 * Branded ids, so a merchant id can never be passed where a charge id is wanted, and id makers.
 * Our ids sort by creation time (a base32 timestamp before the random part), so a Query on the
 * sort key lists charges newest first without an index.
 */
import { createHash, randomBytes } from 'node:crypto';

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type MerchantId = Brand<string, 'MerchantId'>;
export type ChargeId = Brand<string, 'ChargeId'>;
export type RefundId = Brand<string, 'RefundId'>;
export type SessionId = Brand<string, 'SessionId'>;
export type CaptureId = Brand<string, 'CaptureId'>;
/** Integer minor units. */
export type Cents = Brand<number, 'Cents'>;

const B32 = '0123456789abcdefghjkmnpqrstvwxyz';
const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function timePart(now: number): string {
  let t = now;
  let out = '';
  for (let i = 0; i < 9; i++) {
    out = B32[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

export function randomString(length: number, alphabet = B62): string {
  const bytes = randomBytes(length * 2);
  let out = '';
  for (let i = 0; out.length < length && i < bytes.length; i++) {
    const b = bytes[i]!;
    // Rejection sampling keeps every character equally likely.
    if (b < 256 - (256 % alphabet.length)) out += alphabet[b % alphabet.length];
  }
  return out.length === length ? out : randomString(length, alphabet);
}

export const newId = (prefix: 'ch' | 're' | 'cs' | 'cp', now = Date.now()): string =>
  `${prefix}_${timePart(now)}${randomString(14, B32)}`;

export const isMerchantId = (s: unknown): s is MerchantId => typeof s === 'string' && /^[A-Z0-9]{13}$/.test(s);
export const isChargeId = (s: unknown): s is ChargeId => typeof s === 'string' && /^ch_[0-9a-z]{23}$/.test(s);
export const isSessionId = (s: unknown): s is SessionId => typeof s === 'string' && /^cs_[0-9a-z]{23}$/.test(s);
export const isRefundId = (s: unknown): s is RefundId => typeof s === 'string' && /^re_[0-9a-z]{23}$/.test(s);
export const isCaptureId = (s: unknown): s is CaptureId => typeof s === 'string' && /^cp_[0-9a-z]{23}$/.test(s);

export const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');
