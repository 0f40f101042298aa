/**
 * The demo merchant (API.md §3): on first start the platform onboards a merchant through the
 * emulator's OAuth authorize redirect and the real callback route, creates its keys, and writes
 * `$DATA_DIR/demo-merchant.json`. On later starts the file is reused.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createApiKey } from '../shared/store/api-keys';

export interface DemoMerchant {
  merchant_id: string;
  publishable_key: string;
  secret_key: string;
}

export async function ensureDemoMerchant(p: {
  dataDir: string;
  gatewayUrl: string;
  emulatorUrl: string;
  clientId: string;
}): Promise<DemoMerchant> {
  const file = join(p.dataDir, 'demo-merchant.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DemoMerchant;
  const merchant_id = await onboardMerchant(p);
  const [pk, sk] = await Promise.all([
    createApiKey(merchant_id, 'publishable', 'test'),
    createApiKey(merchant_id, 'secret', 'test'),
  ]);
  const demo: DemoMerchant = { merchant_id, publishable_key: pk.key, secret_key: sk.key };
  writeFileSync(file, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  return demo;
}

/** A new emulator merchant installs the app: authorize redirect → our callback. Returns its id. */
export async function onboardMerchant(p: {
  gatewayUrl: string;
  emulatorUrl: string;
  clientId: string;
}): Promise<string> {
  const created = await fetch(`${p.emulatorUrl}/_emulator/merchants`, { method: 'POST' });
  if (created.status !== 201) throw new Error(`emulator refused to create a merchant: ${created.status}`);
  const { merchant_id } = (await created.json()) as { merchant_id: string };
  const location = await authorizeRedirect(p, merchant_id);
  const cb = await fetch(location);
  if (cb.status !== 200) throw new Error(`onboarding callback answered ${cb.status}: ${await cb.text()}`);
  return merchant_id;
}

/** Where Clover sends the merchant's browser after an install (the callback URL with a fresh code). */
export async function authorizeRedirect(
  p: { gatewayUrl: string; emulatorUrl: string; clientId: string },
  merchantId: string,
): Promise<string> {
  const url = new URL('/oauth/v2/authorize', p.emulatorUrl);
  url.searchParams.set('client_id', p.clientId);
  url.searchParams.set('merchant_id', merchantId);
  url.searchParams.set('redirect_uri', `${p.gatewayUrl}/v1/oauth/callback`);
  const r = await fetch(url, { redirect: 'manual' });
  const location = r.headers.get('location');
  if (r.status !== 302 || !location) throw new Error(`emulator authorize answered ${r.status}`);
  return location;
}
