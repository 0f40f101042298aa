/**
 * Scenario 6: card data at rest and in output. Runs last: after every scenario has pushed card
 * numbers and CVVs through tokens, charges, declines, faults, outages and fuzzing, the platform's
 * whole output (handler logs, gateway, emulator, Secrets Manager), every DynamoDB item and every
 * secret are scanned. The scanner is first shown to find what it looks for.
 */
import { expect, it } from 'vitest';
import { accountingTest, expectCharges, scenario } from '../common';
import {
  allItems,
  allSecretValues,
  api,
  CARDS,
  CVV,
  expYear,
  harness,
  type Merchant,
  newKey,
  onboard,
} from '../harness';
import { leaksIn, SENT_NUMBERS } from '../leaks';
import { activeScenario } from '../summary';

export function leakScan(): void {
  scenario('Card-data leak scan', () => {
    let m: Merchant;

    it('the scanner finds planted card numbers and CVVs however they are written, and nothing in ids, timestamps or digests', () => {
      expect(leaksIn(`{"msg":"x","card":"${CARDS.visa}"}`)).toContain(CARDS.visa);
      expect(leaksIn('number=4242 4242 4242 4242&x=1')).toContain('4242 4242 4242 4242');
      expect(leaksIn('pan 3782-8224-6310-005 here')).toContain('3782-8224-6310-005');
      expect(leaksIn('card 5105105105105100 declined')).toEqual(['5105105105105100']);
      // Every Luhn-valid 12–19 digit run: a 13-digit Visa, a 12-digit run, a first digit no brand uses.
      expect(leaksIn('pan 4222222222222 x')).toEqual(['4222222222222']);
      expect(leaksIn('n=123456789015;')).toEqual(['123456789015']);
      expect(leaksIn('"x":"9999999999999995"')).toEqual(['9999999999999995']);
      expect(leaksIn(`{"cvv":"${CVV.visa}"}`)).toHaveLength(1);
      expect(leaksIn(`"body":"{\\"cvv\\":\\"${CVV.amex}\\"}"`)).toHaveLength(1);
      expect(leaksIn(`cvc=${CVV.visa}`)).toHaveLength(1);
      for (const clean of [
        '"lease_until":1795000000000,"expires_at_epoch":1795000000',
        'ch_1m86bc7nx8bxhgd6nh8ycpq re_123 cs_456 clv_1TSTabc 4242…4242 424242…4242',
        'arn:aws:sts::000000000000:assumed-role/x request 0d5a2c1e-9b7f-4e21-8c3d-123456789015',
        '2026-11-24T10:00:00.000Z "first6":"424242","last4":"4242"',
        `a${'5105105105105100'}b${'0'.repeat(46)}`,
        '{"amount":739,"cvv_check":"pass"} request 7391 took 739ms',
      ]) {
        expect(leaksIn(clean), clean).toEqual([]);
      }
    });

    it('card data goes through every path once more: tokens made and refused, a charge, a decline, a refund, a session', async () => {
      m = await onboard();
      const tokenize = (card: Record<string, unknown>) =>
        api('POST', '/v1/tokens', { key: m.publishable_key, body: { card } });
      const ok = await tokenize({
        number: CARDS.visa,
        exp_month: '11',
        exp_year: expYear(),
        cvv: CVV.visa,
        name: 'A Shopper',
        address_zip: '94107',
      });
      const amex = await tokenize({ number: '3782 822463 10005', exp_month: 11, exp_year: expYear(), cvv: CVV.amex });
      const decline = await tokenize({
        number: '4005-5717-0222-2222',
        exp_month: '11',
        exp_year: expYear(),
        cvv: CVV.visa,
      });
      expect([ok.status, amex.status, decline.status]).toEqual([201, 201, 201]);
      for (const bad of [
        { number: CARDS.visa, exp_month: '13', exp_year: expYear(), cvv: CVV.visa },
        { number: CARDS.visa, exp_month: '11', exp_year: '2001', cvv: CVV.visa },
        { number: CARDS.amex, exp_month: '11', exp_year: expYear(), cvv: CVV.visa },
        { number: '4242424242424241', exp_month: '11', exp_year: expYear(), cvv: CVV.visa },
        { number: CARDS.visa, exp_month: '11', exp_year: expYear(), cvv: CVV.visa, pin: '1234' },
        { number: Number(CARDS.visa), exp_month: '11', exp_year: expYear(), cvv: CVV.visa },
      ]) {
        const r = await tokenize(bad);
        expect(r.status, r.text).toBe(400);
      }
      const pay = (source: string, amount: number) =>
        api('POST', '/v1/charges', { key: m.secret_key, idem: newKey(), body: { source, amount, currency: 'usd' } });
      const made = await pay(ok.body.id, 1200);
      expect(made.status).toBe(201);
      expect((await pay(decline.body.id, 1300)).status).toBe(402);
      expect((await pay(CARDS.visa, 1400)).status, 'a card number where a token belongs').toBe(400);
      expectCharges(2);
      const refund = await api('POST', '/v1/refunds', {
        key: m.secret_key,
        idem: newKey(),
        body: { charge: made.body.id },
      });
      expect(refund.status).toBe(201);
      const s = await api('POST', '/v1/checkout-sessions', {
        key: m.secret_key,
        body: { amount: 800, currency: 'usd' },
      });
      const paid = await api('POST', `/v1/checkout-sessions/${s.body.id}/pay`, {
        key: m.publishable_key,
        idem: newKey(),
        body: { client_secret: s.body.client_secret, source: amex.body.id },
      });
      expect(paid.status).toBe(201);
      expectCharges(1);
    });

    it('no card number or CVV in the platform’s output over the whole run', () => {
      const output = harness().output.all();
      expect(output, 'the capture saw the handlers’ own log lines').toMatch(/"service":"clover-payments"/);
      expect(output).toMatch(/\[gateway\] POST \/v1\/tokens 201/);
      expect(output).toMatch(/\[clover\] POST \/v1\/tokens/);
      const hits = leaksIn(output);
      for (const h of hits) activeScenario().leaks.push(`platform output (whole run): ${h}`);
      expect(hits).toEqual([]);
    });

    it('no card number or CVV in any DynamoDB item, and no card field names', async () => {
      const items = await allItems();
      expect(items.length).toBeGreaterThan(100);
      const text = JSON.stringify(items);
      const hits = leaksIn(text);
      for (const h of hits) activeScenario().leaks.push(`DynamoDB: ${h}`);
      expect(hits).toEqual([]);
      const keys = new Set<string>();
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          for (const [k, x] of Object.entries(v)) {
            keys.add(k.toLowerCase());
            walk(x);
          }
        }
      };
      walk(items);
      for (const field of ['number', 'cvv', 'cvc', 'card_number', 'pan', 'encrypted_pan'])
        expect(keys).not.toContain(field);
      for (const n of SENT_NUMBERS) expect(text).not.toContain(n);
    });

    it('no card number or CVV in any secret', async () => {
      const values = await allSecretValues();
      expect(values.length).toBeGreaterThan(5);
      const hits = leaksIn(values.join('\n'));
      for (const h of hits) activeScenario().leaks.push(`Secrets Manager: ${h}`);
      expect(hits).toEqual([]);
    });

    accountingTest(() => [m.merchant_id]);
  });
}
