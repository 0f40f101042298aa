/**
 * The demo storefront, mounted at /demo on the local gateway: a coffee shop's checkout built on
 * this project the way a merchant would build it. Its server side holds the merchant's secret key
 * and fixes the amount by creating a checkout session through the public API (over HTTP, like any
 * other client); the page it renders gets only the publishable key and the session's
 * client_secret, loads Clover's iframe SDK from /v1/checkout-config's `sdk_url`, and pays the
 * session with a token (app.js). Card data never reaches this code or the page's own script.
 */
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoMerchant } from '../demo-merchant';

export const DEMO_PREFIX = '/demo';

/** The cart is the server's: the browser can pay this amount but cannot change it. */
export const CART = {
  currency: 'usd',
  description: 'Clover Coffee — 2 bags',
  items: [{ name: 'House Blend', detail: 'Whole bean · medium roast · 340 g', quantity: 2, unit_amount: 1200 }],
} as const;

export const cartTotal = (): number => CART.items.reduce((sum, item) => sum + item.quantity * item.unit_amount, 0);

export interface StorefrontOptions {
  /** The public API's base URL (the gateway itself). */
  apiUrl: string;
  /** Where demo-merchant.json lives; read on each page load. */
  dataDir: string;
  log?: (line: string) => void;
}

const DIR = fileURLToPath(new URL('.', import.meta.url));
const STATIC: Record<string, [file: string, type: string]> = {
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/styles.css': ['styles.css', 'text/css; charset=utf-8'],
};

export function demoStorefront(opts: StorefrontOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const log = opts.log ?? (() => {});
  return (req, res) => {
    const started = Date.now();
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    res.on('finish', () => log(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`));
    serve(opts, req, res, path.slice(DEMO_PREFIX.length) || '/').catch((e: Error) => {
      log(`${req.method} ${path} failed: ${e.name}`);
      send(res, 500, 'text/plain; charset=utf-8', 'The demo storefront failed; see the platform log.');
    });
  };
}

async function serve(opts: StorefrontOptions, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed', { Allow: 'GET, HEAD' });
  }
  const file = STATIC[path];
  if (file) return send(res, 200, file[1], readFileSync(join(DIR, file[0]), 'utf8'), { 'Cache-Control': 'no-cache' });
  if (path !== '/') return send(res, 404, 'text/plain; charset=utf-8', 'Not Found');

  const merchant = readMerchant(opts.dataDir);
  if (!merchant) {
    return send(res, 503, 'text/plain; charset=utf-8', missingMerchantText(opts.dataDir));
  }
  const order = `CC${randomInt(100000, 1000000)}`;
  const created = await fetch(`${opts.apiUrl}/v1/checkout-sessions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${merchant.secret_key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      amount: cartTotal(),
      currency: CART.currency,
      description: CART.description,
      external_reference_id: order,
    }),
  });
  const session = (await created.json().catch(() => null)) as Record<string, unknown> | null;
  if (created.status !== 201 || !session) {
    const code = (session?.error as { code?: string } | undefined)?.code ?? 'unknown';
    return send(
      res,
      502,
      'text/plain; charset=utf-8',
      `Could not create a checkout session: ${created.status} ${code}`,
    );
  }
  // What a real storefront embeds in its page: its publishable key and this checkout's session.
  const config = {
    publishable_key: merchant.publishable_key,
    order,
    cart: CART,
    session: {
      id: session.id,
      client_secret: session.client_secret,
      amount: session.amount,
      currency: session.currency,
    },
  };
  const json = JSON.stringify(config).replace(/</g, '\\u003c');
  const html = readFileSync(join(DIR, 'index.html'), 'utf8').replace(
    '<!--STOREFRONT_CONFIG-->',
    `<script id="storefront-config" type="application/json">${json}</script>`,
  );
  // The page carries a client_secret: never cache it.
  send(res, 200, 'text/html; charset=utf-8', html, { 'Cache-Control': 'no-store' });
}

function readMerchant(dataDir: string): DemoMerchant | null {
  const file = join(dataDir, 'demo-merchant.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoMerchant) : null;
}

function missingMerchantText(dataDir: string): string {
  return [
    'The demo storefront needs a merchant.',
    '',
    `With the Clover emulator (the default) npm start creates one in ${join(dataDir, 'demo-merchant.json')}.`,
    'With CLOVER_ENV=sandbox, install your app on a sandbox test merchant, make its keys with',
    '`npm run keys -- create --merchant <id> --type publishable|secret`, and write them to that file as',
    '{"merchant_id", "publishable_key", "secret_key"}.',
  ].join('\n');
}

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(body);
}
