// The token host (clover-api.md §4, §13.5–6): POST /v1/tokens with a raw or RSA-encrypted PAN,
// and GET /assets/keys.json with the emulator's own TransArmor-style public key.
// The PAN and CVV are checked here and dropped; a token keeps brand, first6, last4 and expiry.

import { constants, createPrivateKey, createPublicKey, type KeyObject, privateDecrypt } from 'node:crypto';
import type { Principal } from './auth';
import { type Brand, detectBrand, luhnValid, normalizeBrand, outcomeFor } from './cards';
import type { Emu } from './context';
import { cardError, invalidRequest, type Reply } from './errors';
import { type ApiRequest, objectBody } from './http';
import { cardTokenId } from './ids';

const PAN_PREFIX = '00000000';

/**
 * keys.json's format as Clover's clients parse it (§4.3): base64 of the 256-byte modulus followed
 * by the public exponent, left-padded to 256 bytes (ports read bytes 0–255 and 256–511, or the
 * trailing hex digits).
 */
export function taPublicKeyBase64(privateKeyPem: string): string {
  const jwk = createPublicKey(createPrivateKey(privateKeyPem)).export({ format: 'jwk' });
  const modulus = Buffer.from(jwk.n ?? '', 'base64url');
  const exponent = Buffer.from(jwk.e ?? '', 'base64url');
  const out = Buffer.alloc(512);
  modulus.copy(out, 256 - modulus.length);
  exponent.copy(out, 512 - exponent.length);
  return out.toString('base64');
}

export function keysJson(emu: Emu): Reply {
  const key = taPublicKeyBase64(emu.store.rsaPrivateKeyPem);
  return { status: 200, body: { TA_PUBLIC_KEY_DEV: key, TA_PUBLIC_KEY_PROD: key } };
}

const privateKeys = new Map<string, KeyObject>();

function decryptPan(privateKeyPem: string, encrypted: string): string | null {
  let key = privateKeys.get(privateKeyPem);
  if (!key) {
    key = createPrivateKey(privateKeyPem);
    privateKeys.set(privateKeyPem, key);
  }
  if (!/^[A-Za-z0-9+/=\s]+$/.test(encrypted)) return null;
  try {
    const plain = privateDecrypt(
      { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      Buffer.from(encrypted, 'base64'),
    ).toString('latin1');
    return plain.startsWith(PAN_PREFIX) ? plain.slice(PAN_PREFIX.length) : null;
  } catch {
    return null;
  }
}

/** A field that clients send as a string (or a number); other types count as absent-but-wrong. */
function text(value: unknown): string | null {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return null;
}

const INVALID_NUMBER = 'The card number is not a valid credit card number.';

/** The PAN, raw or decrypted; checked for length and Luhn and against any first6/last4 sent. */
function panOf(emu: Emu, card: Record<string, unknown>): string {
  let pan: string | null;
  if (card.encrypted_pan !== undefined && card.encrypted_pan !== null) {
    pan = typeof card.encrypted_pan === 'string' ? decryptPan(emu.store.rsaPrivateKeyPem, card.encrypted_pan) : null;
    if (pan === null) throw invalidRequest('Unable to decrypt card.encrypted_pan', 'card.encrypted_pan');
  } else if (card.number !== undefined && card.number !== null) {
    pan = text(card.number);
  } else {
    throw invalidRequest('Either card.number or card.encrypted_pan is required', 'card.number');
  }
  if (pan === null || !/^\d{12,19}$/.test(pan) || !luhnValid(pan)) {
    throw cardError('invalid_number', INVALID_NUMBER, 'card.number');
  }
  for (const [field, expected] of [
    ['first6', pan.slice(0, 6)],
    ['last4', pan.slice(-4)],
  ] as const) {
    const sent = card[field];
    if (sent !== undefined && sent !== null && text(sent) !== expected) {
      throw cardError('incorrect_number', `card.${field} does not match the card number.`, `card.${field}`);
    }
  }
  return pan;
}

function brandOf(pan: string, sent: unknown): Brand {
  const brand = detectBrand(pan);
  if (!brand) throw cardError('invalid_card_type', 'The card brand is not supported.', 'card.number');
  if (sent !== undefined && sent !== null && sent !== '') {
    if (typeof sent !== 'string' || normalizeBrand(sent) !== brand) {
      throw cardError('invalid_card_type', 'The card brand is unknown or does not match the number.', 'card.brand');
    }
  }
  return brand;
}

/** Month as two digits and year as four; the card must not have expired (by `now`, UTC). */
function expiryOf(emu: Emu, card: Record<string, unknown>): { exp_month: string; exp_year: string } {
  const month = text(card.exp_month);
  if (month === null || !/^\d{1,2}$/.test(month) || Number(month) < 1 || Number(month) > 12) {
    throw cardError('invalid_expiry_month', "The card's expiration month is invalid.", 'card.exp_month');
  }
  const yearText = text(card.exp_year);
  const year = yearText === null ? Number.NaN : yearText.length === 2 ? 2000 + Number(yearText) : Number(yearText);
  const today = new Date(emu.now());
  const thisYear = today.getUTCFullYear();
  if (yearText === null || !/^(\d{2}|\d{4})$/.test(yearText) || year > thisYear + 50) {
    throw cardError('invalid_expiry_year', "The card's expiration year is invalid.", 'card.exp_year');
  }
  if (year < thisYear || (year === thisYear && Number(month) < today.getUTCMonth() + 1)) {
    throw cardError('expired_card', 'The card has expired.', 'card.exp_year');
  }
  return { exp_month: month.padStart(2, '0'), exp_year: String(year) };
}

function checkCvv(brand: Brand, value: unknown): void {
  const cvv = text(value);
  const pattern = brand === 'AMEX' ? /^\d{4}$/ : /^\d{3}$/;
  if (cvv === null || !pattern.test(cvv)) {
    throw cardError('invalid_cvc', "The card's security code is invalid.", 'card.cvv');
  }
}

/** POST /v1/tokens (apikey). */
export function createToken(emu: Emu, req: ApiRequest, principal: Principal): Reply {
  const body = objectBody(req);
  const card = body.card;
  if (typeof card !== 'object' || card === null || Array.isArray(card)) {
    throw invalidRequest('card is required', 'card');
  }
  const fields = card as Record<string, unknown>;
  const pan = panOf(emu, fields);
  const brand = brandOf(pan, fields.brand);
  const expiry = expiryOf(emu, fields);
  checkCvv(brand, fields.cvv);
  const shown = { ...expiry, first6: pan.slice(0, 6), last4: pan.slice(-4), brand };
  const id = cardTokenId();
  emu.store.cardTokens.set(id, {
    id,
    merchant_id: principal.merchant_id,
    ...shown,
    outcome: outcomeFor(pan),
    used: false,
    created: emu.now(),
  });
  emu.store.changed();
  return { status: 200, body: { id, object: 'token', card: shown } };
}
