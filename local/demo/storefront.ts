/**
 * The demo storefront, mounted at /demo on the local gateway: a coffee shop's checkout built on
 * this project the way a merchant would build it. Its server side holds the merchant's secret key
 * and fixes the amount by creating a checkout session through the public API (over HTTP, like any
 * other client); the page it renders gets only the publishable key and the session's
 * client_secret, loads Clover's iframe SDK from /v1/checkout-config's `sdk_url`, and pays the
 * session with a token (app.js). Card data never reaches this code or the page's own script.
 */
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
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

/**
 * Orders the server has fulfilled, by checkout session: only a verified `checkout_session.paid`
 * webhook fulfils one (deduped on webhook-id), never the browser's "payment approved".
 */
const fulfilled = new Map<string, { event: string; at: string }>();
const seenWebhooks = new Set<string>();

async function serve(opts: StorefrontOptions, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (path === '/webhooks' && req.method === 'POST') return receiveWebhook(opts, req, res);
  const orderPath = path.match(/^\/orders\/(cs_[0-9a-z]{23})$/);
  if (orderPath && req.method === 'GET') {
    const done = fulfilled.get(orderPath[1]!);
    return send(res, 200, 'application/json', JSON.stringify({ fulfilled: Boolean(done), ...done }), {
      'Cache-Control': 'no-store',
    });
  }
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
  await ensureWebhookEndpoint(opts, merchant);
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

interface DemoWebhook {
  endpoint_id: string;
  secret: string;
  url: string;
}

/** The storefront's own webhook endpoint (checkout_session.paid), registered once, secret kept in $DATA_DIR. */
async function ensureWebhookEndpoint(opts: StorefrontOptions, merchant: DemoMerchant): Promise<DemoWebhook | null> {
  const file = join(opts.dataDir, 'demo-webhook.json');
  const url = `${opts.apiUrl}${DEMO_PREFIX}/webhooks`;
  if (existsSync(file)) {
    const known = JSON.parse(readFileSync(file, 'utf8')) as DemoWebhook;
    if (known.url === url) return known;
  }
  const r = await fetch(`${opts.apiUrl}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${merchant.secret_key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, enabled_events: ['checkout_session.paid'] }),
  });
  if (r.status !== 201) return null;
  const created = (await r.json()) as { id: string; secret: string };
  const hook: DemoWebhook = { endpoint_id: created.id, secret: created.secret, url };
  writeFileSync(file, `${JSON.stringify(hook, null, 2)}\n`, { mode: 0o600 });
  return hook;
}

async function receiveWebhook(opts: StorefrontOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  const file = join(opts.dataDir, 'demo-webhook.json');
  if (!existsSync(file)) return send(res, 400, 'text/plain; charset=utf-8', 'no endpoint registered');
  const { secret } = JSON.parse(readFileSync(file, 'utf8')) as DemoWebhook;
  let event: { id: string; type: string; data: { object: { id: string } } };
  try {
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    event = new Webhook(secret).verify(body, headers) as typeof event;
  } catch {
    return send(res, 400, 'text/plain; charset=utf-8', 'bad signature');
  }
  const id = String(req.headers['webhook-id']);
  if (!seenWebhooks.has(id)) {
    seenWebhooks.add(id);
    if (event.type === 'checkout_session.paid') {
      fulfilled.set(event.data.object.id, { event: event.id, at: new Date().toISOString() });
      opts.log?.(`order of ${event.data.object.id} fulfilled (webhook ${event.id})`);
    }
  }
  send(res, 200, 'text/plain; charset=utf-8', 'ok');
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
