/**
 * The demo storefront (/demo) in a real Chromium, paying through the Clover emulator's hosted
 * iframe fields with real keystrokes. Besides the outcomes, every test checks that the merchant's
 * own page — the top frame — never sends, receives or holds a card number: only Clover's iframes do.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, cloverRequests, demo, emulator, platform, platformLog } from '../helpers/platform';
import { type Browser, type Checkout, launchChromium, openCheckout, panPattern } from './browser';

const VISA = '4242424242424242';
const DECLINED_VISA = '4005571702222222';
const MASTERCARD = '5555555555554444';
const BAD_LUHN = '4242424242424241';
const EXPIRY = `12${String((new Date().getUTCFullYear() + 3) % 100).padStart(2, '0')}`;
const card = (number: string) => ({ number, expiry: EXPIRY, cvv: '123', zip: '94107' });

let browser: Browser;
const open: Checkout[] = [];
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await Promise.allSettled(open.map((c) => c.close()));
  await browser?.close();
});

async function checkout(): Promise<Checkout> {
  const c = await openCheckout(browser);
  open.push(c);
  return c;
}

/** No trace of any of the card numbers in the top frame, nor in anything the platform logged. */
async function expectNoCardNumberInTopFrame(c: Checkout, pans: string[]): Promise<void> {
  const evidence = await c.evidence();
  // The recording works: the page did load, call our API and hear from the fields.
  expect(evidence.requests).toContain('/v1/checkout-config');
  expect(evidence.messages).toContain('clover:event');
  expect(evidence.dom).toContain('storefront-config');
  for (const pan of pans) {
    for (const [where, text] of Object.entries({ ...evidence, platformLog: platformLog() })) {
      expect(panPattern(pan).test(text), `card number ${pan.slice(0, 6)}… found in the top frame's ${where}`).toBe(
        false,
      );
    }
  }
  expect(c.pageErrors).toEqual([]);
}

const session = async (id: string) =>
  (await api('GET', `/v1/checkout-sessions/${id}`, { key: demo().secret_key })).body;
const payRequests = (c: Checkout) => c.requests.filter((r) => r.method === 'POST' && r.url.endsWith('/pay'));

describe('demo storefront: hosted-iframe checkout in Chromium', () => {
  it('approves 4242 4242 4242 4242 and shows the brand and last4; the page never touches the card', async () => {
    const c = await checkout();
    await c.typeCard(card(VISA));
    // The field formats as the shopper types, inside its own frame.
    expect(await c.field('card-number').inputValue()).toBe('4242 4242 4242 4242');
    expect(await c.field('card-date').inputValue()).toBe(`12 / ${EXPIRY.slice(2)}`);
    // The page's own script cannot read the field: it is another origin.
    const peek = await c.page.evaluate(() => {
      const frame = document.querySelector<HTMLIFrameElement>('#card-number iframe');
      const contentDocument = frame?.contentDocument ?? null;
      try {
        return { contentDocument, value: frame?.contentWindow?.document.querySelector('input')?.value };
      } catch (e) {
        return { contentDocument, value: (e as Error).name };
      }
    });
    expect(peek).toEqual({ contentDocument: null, value: 'SecurityError' });

    await c.pay();
    expect(await c.page.locator('#approved').isVisible()).toBe(true);
    expect(await c.text('#approved-title')).toBe('Payment approved');
    expect(await c.text('#paid-card')).toBe('Visa •••• 4242');
    expect(await c.text('#paid-amount')).toBe('$24.00');
    const chargeId = await c.text('#paid-charge');
    expect(chargeId).toMatch(/^ch_/);
    // The storefront's server fulfils the order from the signed checkout_session.paid webhook.
    await c.page.locator('#fulfilment[data-fulfilled="true"]').waitFor({ timeout: 20_000 });
    expect(await c.text('#fulfilment')).toMatch(/^Fulfilled — confirmed by webhook evt_[0-9a-z]{23}$/);

    // The session, read with the secret key: paid, by that charge, for the server's amount.
    expect(await session(c.session.id)).toMatchObject({ status: 'paid', charge: chargeId, amount: 2400 });
    const [pay] = payRequests(c);
    expect(pay?.headers['idempotency-key']).toBeTruthy();
    expect(JSON.parse(pay?.postData ?? '{}')).toEqual({
      client_secret: c.session.client_secret,
      source: expect.stringMatching(/^clv_/),
    });
    // The card went to Clover's token host from the iframe's origin, with the PAKMS key.
    const tokenCall = (await cloverRequests('/v1/tokens')).at(-1);
    expect(tokenCall?.headers.origin).toBe(platform().emulatorUrl);
    expect(tokenCall?.headers.apikey).toMatch(/^\*\*\*\*/);
    expect(tokenCall?.body.card).toMatchObject({ first6: '424242', last4: '4242', exp_month: '12' });

    mkdirSync('reports', { recursive: true });
    await c.page.screenshot({ path: 'reports/demo-approved.png', fullPage: true });
    await expectNoCardNumberInTopFrame(c, [VISA]);
  });

  it('shows a decline for 4005 5717 0222 2222, keeps the session open, and a second card pays it', async () => {
    const c = await checkout();
    await c.typeCard(card(DECLINED_VISA));
    await c.pay();
    expect(await c.page.locator('#alert').isVisible()).toBe(true);
    expect(await c.text('#alert')).toMatch(/declined.*try another card/i);
    expect(await c.page.locator('#approved').isVisible()).toBe(false);
    expect(await session(c.session.id)).toMatchObject({ status: 'open', charge: null });

    // Same page, same session: the shopper replaces the card number and pays again.
    await c.field('card-number').clear();
    await c.field('card-number').pressSequentially(MASTERCARD);
    await c.pay();
    expect(await c.text('#paid-card')).toBe('Mastercard •••• 4444');
    expect(await c.page.locator('#alert').isVisible()).toBe(false);
    const chargeId = await c.text('#paid-charge');
    expect(await session(c.session.id)).toMatchObject({ status: 'paid', charge: chargeId });

    // Two pays of one session, each with its own token and Idempotency-Key.
    const pays = payRequests(c);
    expect(pays).toHaveLength(2);
    expect(pays[0]?.headers['idempotency-key']).not.toBe(pays[1]?.headers['idempotency-key']);
    expect(JSON.parse(pays[0]?.postData ?? '{}').source).not.toBe(JSON.parse(pays[1]?.postData ?? '{}').source);
    // Clover saw one declined and one approved charge for it.
    const charges = (await emulator('GET', `/_emulator/charges?merchant_id=${demo().merchant_id}`)).body;
    expect(charges.slice(0, 2).map((ch: any) => [ch.status, ch.source?.last4])).toEqual([
      ['succeeded', '4444'],
      ['failed', '2222'],
    ]);
    await expectNoCardNumberInTopFrame(c, [DECLINED_VISA, MASTERCARD]);
  });

  it('re-sends the same token and Idempotency-Key when Clover’s answer is lost, and charges once', async () => {
    const c = await checkout();
    await c.typeCard(card(VISA));
    const chargesBefore = (await emulator('GET', `/_emulator/charges?merchant_id=${demo().merchant_id}`)).body.length;
    // Clover makes the charge but its answer is a 500: the outcome is unknown to the API and the page.
    await emulator('POST', '/_emulator/faults', {
      path: '/v1/charges',
      method: 'POST',
      status: 500,
      times: 1,
      after_effect: true,
    });
    try {
      await c.pay();
    } finally {
      await emulator('DELETE', '/_emulator/faults');
    }
    expect(await c.text('#alert')).toMatch(/could not confirm.*Pay again/i);
    await c.pay();
    expect(await c.text('#paid-card')).toBe('Visa •••• 4242');

    const [first, second] = payRequests(c);
    expect(second?.headers['idempotency-key']).toBe(first?.headers['idempotency-key']);
    expect(second?.postData).toBe(first?.postData);
    const charges = (await emulator('GET', `/_emulator/charges?merchant_id=${demo().merchant_id}`)).body;
    expect(charges.length - chargesBefore).toBe(1);
    expect(await session(c.session.id)).toMatchObject({ status: 'paid', charge: await c.text('#paid-charge') });
    await expectNoCardNumberInTopFrame(c, [VISA]);
  });

  it('puts field errors next to the fields and calls neither Clover nor the API for an invalid card', async () => {
    const before = {
      tokens: (await cloverRequests('/v1/tokens')).length,
      charges: (await cloverRequests('/v1/charges')).length,
    };
    const c = await checkout();

    // Pay on an empty form: every field says what is missing.
    await c.pay();
    expect(await c.text('#card-number-error')).toBe('Enter your card number.');
    expect(await c.text('#card-date-error')).toBe('Enter the expiration date.');
    expect(await c.text('#card-cvv-error')).toBe('Enter the security code.');
    expect(await c.text('#card-postal-code-error')).toBe('Enter your ZIP or postal code.');

    // A number that fails the Luhn check is flagged as soon as it is complete, before Pay.
    await c.typeCard(card(BAD_LUHN));
    await c.page.locator('#card-number-error', { hasText: 'Your card number is invalid.' }).waitFor();
    expect(await c.page.locator('#card-number.is-invalid').count()).toBe(1);
    expect(await c.text('#card-date-error')).toBe('');
    expect(await c.text('#card-cvv-error')).toBe('');

    await c.pay();
    expect(await c.text('#card-number-error')).toBe('Your card number is invalid.');
    expect(await c.page.locator('#approved').isVisible()).toBe(false);
    expect(payRequests(c)).toEqual([]);
    expect((await cloverRequests('/v1/tokens')).length).toBe(before.tokens);
    expect((await cloverRequests('/v1/charges')).length).toBe(before.charges);
    expect(await session(c.session.id)).toMatchObject({ status: 'open', charge: null });
    await expectNoCardNumberInTopFrame(c, [BAD_LUHN]);
  });
});
