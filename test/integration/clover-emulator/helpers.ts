// Shared plumbing for the emulator's integration tests: start it on a random port with a clock the
// test can move, and the few calls every test needs (a merchant, an OAuth install, a card token).

import { randomUUID } from 'node:crypto';
import {
  type CloverEmulator,
  type CloverEmulatorOptions,
  startCloverEmulator,
} from '../../../local/clover-emulator/index';

export const APP = { client_id: 'TESTAPP000001', client_secret: 'test-app-secret' };

export interface Harness {
  emu: CloverEmulator;
  url: string;
  /** Move the emulator's clock forward. */
  advance(ms: number): void;
  /** The emulator's clock, epoch ms. */
  now(): number;
  close(): Promise<void>;
}

export async function startHarness(opts: CloverEmulatorOptions = {}): Promise<Harness> {
  let offset = 0;
  const emu = await startCloverEmulator({ apps: [APP], now: () => Date.now() + offset, ...opts });
  return {
    emu,
    url: emu.url,
    advance: (ms) => {
      offset += ms;
    },
    now: () => Date.now() + offset,
    close: () => emu.close(),
  };
}

export interface Json {
  status: number;
  headers: Headers;
  // Tests poke at arbitrary response fields.
  body: any;
}

export async function call(
  url: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Json> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    redirect: 'manual',
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

export interface Merchant {
  merchant_id: string;
  public_key: string;
  private_key: string;
}

export async function newMerchant(url: string): Promise<Merchant> {
  const res = await call(url, '/_emulator/merchants', { method: 'POST' });
  if (res.status !== 201) throw new Error(`merchant: ${res.status}`);
  return res.body as Merchant;
}

export async function authorizeCode(url: string, merchantId: string, app = APP): Promise<string> {
  const res = await call(
    url,
    `/oauth/v2/authorize?client_id=${app.client_id}&redirect_uri=${encodeURIComponent('https://app.test/cb')}&merchant_id=${merchantId}`,
  );
  if (res.status !== 302) throw new Error(`authorize: ${res.status}`);
  const code = new URL(res.headers.get('location') ?? '').searchParams.get('code');
  if (!code) throw new Error('authorize: no code');
  return code;
}

export interface TokenPair {
  access_token: string;
  access_token_expiration: number;
  refresh_token: string;
  refresh_token_expiration: number;
}

/** Install the app on the merchant: authorize, then exchange the code. */
export async function install(url: string, merchantId: string, app = APP): Promise<TokenPair> {
  const code = await authorizeCode(url, merchantId, app);
  const res = await call(url, '/oauth/v2/token', {
    body: { client_id: app.client_id, client_secret: app.client_secret, code },
  });
  if (res.status !== 200) throw new Error(`token: ${res.status}`);
  return res.body as TokenPair;
}

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

export const scl = (key: string, extra: Record<string, string> = {}): Record<string, string> => ({
  ...bearer(key),
  'x-forwarded-for': '203.0.113.7',
  ...extra,
});

export function card(number: string, extra: Record<string, unknown> = {}): { card: Record<string, unknown> } {
  const amex = number.startsWith('34') || number.startsWith('37');
  return {
    card: {
      number,
      exp_month: '12',
      exp_year: String(new Date().getUTCFullYear() + 3),
      cvv: amex ? '1234' : '123',
      ...extra,
    },
  };
}

/** Tokenize with the merchant's public key; returns the clv_ id. */
export async function tokenize(url: string, merchant: Merchant, number = '4242424242424242'): Promise<string> {
  const res = await call(url, '/v1/tokens', { headers: { apikey: merchant.public_key }, body: card(number) });
  if (res.status !== 200) throw new Error(`tokenize: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

export async function charge(
  url: string,
  merchant: Merchant,
  body: Record<string, unknown> = {},
  number = '4242424242424242',
): Promise<Json> {
  const source = await tokenize(url, merchant, number);
  return call(url, '/v1/charges', {
    headers: scl(merchant.private_key, { 'idempotency-key': randomUUID() }),
    body: { amount: 1000, currency: 'usd', source, ...body },
  });
}

export async function setConfig(url: string, config: Record<string, unknown>): Promise<Json> {
  const res = await call(url, '/_emulator/config', { body: config });
  if (res.status !== 200) throw new Error(`config: ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

/** A Luhn-valid number: the prefix padded with zeros to `length`, check digit last. */
export function luhn(prefix: string, length = 16): string {
  const body = prefix.padEnd(length - 1, '0');
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}
