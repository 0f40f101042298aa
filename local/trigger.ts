/**
 * `npm run trigger -- charge.succeeded`: makes the event happen against the demo merchant through
 * the public API, as a storefront would (a token with a test card, then the calls). The event then
 * arrives like any other: `npm run listen` prints it.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DemoMerchant } from './demo-merchant';
import { readPlatformFile } from './platform';

export function readDemoMerchant(dataDir: string): DemoMerchant {
  const file = join(dataDir, 'demo-merchant.json');
  if (!existsSync(file)) throw new Error(`No demo merchant in ${dataDir}: start the platform with npm start.`);
  return JSON.parse(readFileSync(file, 'utf8')) as DemoMerchant;
}

const CARD = { visa: '4242424242424242', decline: '4005571702222222' };

export const TRIGGERS = [
  'charge.succeeded',
  'charge.failed',
  'charge.captured',
  'charge.refunded',
  'refund.succeeded',
  'checkout_session.paid',
] as const;

export async function trigger(type: string, gatewayUrl: string, demo: DemoMerchant): Promise<string | undefined> {
  const call = async (method: string, path: string, key: string, body?: unknown, idem = false) => {
    const r = await fetch(`${gatewayUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${key}`,
        'Content-Type': 'application/json',
        ...(idem ? { 'Idempotency-Key': randomUUID() } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: r.status,
      body: (await r.json()) as { id?: string; client_secret?: string; error?: { charge?: string } },
    };
  };
  const token = async (number: string) => {
    const year = String(new Date().getUTCFullYear() + 3);
    const t = await call('POST', '/v1/tokens', demo.publishable_key, {
      card: { number, exp_month: '12', exp_year: year, cvv: '123' },
    });
    if (t.status !== 201) throw new Error(`tokenizing failed: ${t.status} ${JSON.stringify(t.body)}`);
    return t.body.id as string;
  };
  const charge = async (extra: Record<string, unknown> = {}, number = CARD.visa) =>
    call(
      'POST',
      '/v1/charges',
      demo.secret_key,
      { source: await token(number), amount: 1099, currency: 'usd', ...extra },
      true,
    );
  switch (type) {
    case 'charge.succeeded':
      return (await charge()).body.id;
    case 'charge.failed':
      return (await charge({}, CARD.decline)).body.error?.charge;
    case 'charge.captured': {
      const c = await charge({ capture: false });
      return (await call('POST', `/v1/charges/${c.body.id}/capture`, demo.secret_key, {}, true)).body.id;
    }
    case 'charge.refunded':
    case 'refund.succeeded': {
      const c = await charge();
      return (await call('POST', '/v1/refunds', demo.secret_key, { charge: c.body.id }, true)).body.id;
    }
    case 'checkout_session.paid': {
      const s = await call('POST', '/v1/checkout-sessions', demo.secret_key, { amount: 2400, currency: 'usd' });
      const pay = await call(
        'POST',
        `/v1/checkout-sessions/${s.body.id}/pay`,
        demo.publishable_key,
        { client_secret: s.body.client_secret, source: await token(CARD.visa) },
        true,
      );
      if (pay.status !== 201) throw new Error(`paying the session failed: ${JSON.stringify(pay.body)}`);
      return s.body.id;
    }
    default:
      throw new Error(`Unknown trigger "${type}". One of: ${TRIGGERS.join(', ')}.`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const type = process.argv[2] ?? '';
  const dataDir = resolve(process.env.DATA_DIR ?? '.local');
  const platform = readPlatformFile(dataDir);
  if (!platform) {
    console.error(`No running platform in ${dataDir}: start it with npm start.`);
    process.exit(1);
  }
  trigger(type, platform.gatewayUrl, readDemoMerchant(dataDir))
    .then((id) => console.log(`Triggered ${type}: ${id}`))
    .catch((e: Error) => {
      console.error(e.message);
      process.exit(1);
    });
}
