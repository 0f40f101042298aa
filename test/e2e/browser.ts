/**
 * Chromium through playwright-core (toolchain.md §6), and the demo checkout opened in it with a
 * record of everything its top frame — the merchant's own page — sent, received and holds, to show
 * that no card number ever reaches it.
 */
import { existsSync } from 'node:fs';
import {
  type Browser,
  type BrowserContext,
  chromium,
  type FrameLocator,
  type Locator,
  type Page,
} from 'playwright-core';
import { platform } from '../helpers/platform';

export type { Browser };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: run \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface TopRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  postData: string;
}

export interface Card {
  number: string;
  expiry: string;
  cvv: string;
  zip: string;
}

export type FieldId = 'card-number' | 'card-date' | 'card-cvv' | 'card-postal-code';

export interface Checkout {
  page: Page;
  context: BrowserContext;
  /** Every request the top frame made (document, scripts, API calls), with headers and body. */
  requests: TopRequest[];
  session: { id: string; client_secret: string; amount: number; currency: string };
  order: string;
  pageErrors: string[];
  /** The input inside a hosted field's iframe. */
  field(id: FieldId): Locator;
  frame(id: FieldId): FrameLocator;
  /** Types the card with real keystrokes, field by field. */
  typeCard(card: Card): Promise<void>;
  /** Presses Pay and waits until the page is done with it (approved, or the button is back). */
  pay(): Promise<void>;
  /** The text of `selector` in the top frame ('' when empty). */
  text(selector: string): Promise<string>;
  /** Everything the top frame holds or saw, as named strings: see topFrameEvidence. */
  evidence(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export async function openCheckout(browser: Browser): Promise<Checkout> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  await context.addInitScript(recordTopFrameMessages);
  const page = await context.newPage();
  const requests: TopRequest[] = [];
  const responseBodies: Promise<string>[] = [];
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('request', (r) => {
    if (r.frame() !== page.mainFrame()) return;
    requests.push({ method: r.method(), url: r.url(), headers: r.headers(), postData: r.postData() ?? '' });
  });
  page.on('response', (r) => {
    if (r.request().frame() === page.mainFrame()) responseBodies.push(r.text().catch(() => ''));
  });

  await page.goto(`${platform().gatewayUrl}/demo`);
  await page.locator('#pay:not([disabled])').waitFor();
  const config = JSON.parse((await page.locator('#storefront-config').textContent()) ?? '{}');
  const frame = (id: FieldId) => page.frameLocator(`#${id} iframe`);
  const field = (id: FieldId) => frame(id).locator('input');

  return {
    page,
    context,
    requests,
    session: config.session,
    order: config.order,
    pageErrors,
    field,
    frame,
    async typeCard(card) {
      await field('card-number').pressSequentially(card.number);
      await field('card-date').pressSequentially(card.expiry);
      await field('card-cvv').pressSequentially(card.cvv);
      await field('card-postal-code').pressSequentially(card.zip);
    },
    async pay() {
      await page.locator('#pay').click();
      await page.locator('#approved:not([hidden]), #pay:not([disabled])').first().waitFor();
    },
    async text(selector) {
      return ((await page.locator(selector).textContent()) ?? '').trim();
    },
    async evidence() {
      return {
        requests: JSON.stringify(requests),
        responses: (await Promise.all(responseBodies)).map(withoutTestBanner).join('\n'),
        ...(await page.evaluate(topFrameEvidence)),
      };
    },
    close: () => context.close(),
  };
}

/**
 * The page's test-mode banner prints the sandbox's test card numbers as a hint for the shopper:
 * static text, the same on every load. It is the one thing the evidence leaves out.
 */
const TEST_BANNER = /<p class="test-banner"[^>]*>[\s\S]*?<\/p>/g;
const withoutTestBanner = (html: string) => html.replace(TEST_BANNER, '');

/** Runs in every frame before its scripts; in the top frame, keeps every postMessage it receives. */
function recordTopFrameMessages(): void {
  if (window.top !== window) return;
  const seen: string[] = [];
  Object.defineProperty(window, '__topFrameMessages', { value: seen });
  window.addEventListener('message', (e) => seen.push(JSON.stringify(e.data) ?? String(e.data)), true);
}

/**
 * Runs in the top frame: its DOM (with any form values), the messages it received, storage and
 * cookies, and every global the page's scripts added (walked to some depth: `JSON.stringify(window)`
 * as far as that can go).
 */
function topFrameEvidence(): Record<string, string> {
  const probe = document.createElement('iframe');
  document.body.append(probe);
  const builtins = new Set(Object.getOwnPropertyNames(probe.contentWindow ?? {}));
  probe.remove();
  const seen = new WeakSet<object>();
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return String(value);
    if (seen.has(value) || depth > 8 || value === window || value instanceof Node) return '[…]';
    seen.add(value);
    const source = value instanceof Map || value instanceof Set ? [...value.entries()] : value;
    const out: Record<string, unknown> = {};
    for (const key of Object.getOwnPropertyNames(source)) {
      try {
        out[key] = walk((source as Record<string, unknown>)[key], depth + 1);
      } catch {
        out[key] = '[unreadable]';
      }
    }
    return out;
  };
  const globals: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(window)) {
    if (!builtins.has(name)) globals[name] = walk((window as unknown as Record<string, unknown>)[name], 0);
  }
  const values = [...document.querySelectorAll('input, textarea, select')].map((el) => (el as HTMLInputElement).value);
  const dom = document.documentElement.cloneNode(true) as HTMLElement;
  for (const banner of dom.querySelectorAll('.test-banner')) banner.remove();
  return {
    dom: dom.outerHTML,
    formValues: JSON.stringify(values),
    globals: JSON.stringify(globals),
    messages: ((window as unknown as { __topFrameMessages?: string[] }).__topFrameMessages ?? []).join('\n'),
    storage: JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }),
  };
}

/** A card number as it might be written anywhere: its digits, optionally with spaces or dashes between. */
export function panPattern(pan: string): RegExp {
  return new RegExp(pan.split('').join('[\\s-]?'));
}
