/**
 * Scenario 3: bursts. Identical requests (one key), near-identical ones (one key, other bodies)
 * and many keys at once, on charges, captures, refunds and checkout-session pays. Exactly-once is
 * checked twice: in our ledger and in what Clover received (its request log) and did (its charges).
 * Clover's rate limits stay on, as in production: callers retry 429s and 409s as a careful client
 * does (harness.ts `untilSettled`).
 */
import { beforeAll, expect, it } from 'vitest';
import { accountingTest, expectCharges, expectErrorShape, nextAmount, note, scenario } from '../common';
import {
  api,
  CARDS,
  clearFaults,
  cloverCharges,
  cloverRequests,
  type Merchant,
  merchantItems,
  newKey,
  onboard,
  type Res,
  setFault,
  token,
  untilSettled,
} from '../harness';

const BURST = 12;

const statuses = (rs: Res[]) =>
  rs.reduce<Record<number, number>>((acc, r) => {
    acc[r.status] = (acc[r.status] ?? 0) + 1;
    return acc;
  }, {});

async function tokens(m: Merchant, n: number, number: string = CARDS.visa): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await token(m, number));
  return out;
}

export function concurrency(): void {
  scenario('Concurrency', () => {
    let m: Merchant;
    beforeAll(async () => {
      m = await onboard();
    });
    const chargeOnce = async (amount: number, capture = true) => {
      const source = await token(m);
      const r = await untilSettled(() =>
        api('POST', '/v1/charges', {
          key: m.secret_key,
          idem: newKey(),
          body: { source, amount, currency: 'usd', capture },
        }),
      );
      expect(r.status, r.text).toBe(201);
      expectCharges(1);
      return r.body;
    };
    const cloverPosts = async (prefix: string, pred: (x: any) => boolean) =>
      (await cloverRequests(prefix)).filter((x) => x.method === 'POST' && x.merchant_id === m.merchant_id && pred(x));

    it(`${BURST} identical charges with one key: one Clover call, one charge, every answer that charge or 409 in progress`, async () => {
      const amount = nextAmount();
      const key = newKey();
      const body = { source: await token(m), amount, currency: 'usd' };
      const send = () => api('POST', '/v1/charges', { key: m.secret_key, idem: key, body });
      // Each function runs in execution environments of its own (one request at a time each), so
      // warm BURST of them first: a cold start on a busy 2-core machine can outlast Clover's delay.
      await Promise.all(Array.from({ length: BURST }, () => api('GET', '/v1/charges?limit=1', { key: m.secret_key })));
      // Clover takes 800 ms over the first one (under the 2 s Clover timeout): the others arrive
      // while it is still running.
      await setFault({ path: '/v1/charges', method: 'POST', delay_ms: 800, after_effect: true });
      const burst = await Promise.all(Array.from({ length: BURST }, send)).finally(clearFaults);
      note(`identical charges: ${JSON.stringify(statuses(burst))}`);
      expect(burst.filter((r) => r.status === 409).length, 'duplicates told 409 while the first runs').toBeGreaterThan(
        0,
      );
      for (const r of burst) {
        // 504: the one that called Clover met its timeout on a loaded machine — pending and named.
        expect([201, 409, 504], r.text).toContain(r.status);
        if (r.status === 504) expect(r.body.error.charge, 'the pending charge is named').toBeTruthy();
        if (r.status === 409) {
          expectErrorShape(r, 'in-progress duplicate');
          expect(r.body.error.code).toBe('idempotency_in_progress');
          expect(r.headers['retry-after']).toBe('1');
        }
      }
      const settled = await Promise.all(burst.map((r) => (r.status === 201 ? r : untilSettled(send))));
      const ids = new Set(settled.map((r) => r.body.id));
      expect(ids.size, 'one charge id for every answer').toBe(1);
      expect(settled.every((r) => r.status === 201)).toBe(true);
      expectCharges(1);
      expect((await cloverCharges(m.merchant_id)).filter((c) => c.amount === amount)).toHaveLength(1);
      expect(await cloverPosts('/v1/charges', (x) => x.body?.amount === amount), 'Clover called once').toHaveLength(1);
      expect((await merchantItems(m.merchant_id, 'CHARGE#')).filter((c) => c.amount === amount)).toHaveLength(1);
    });

    it(`${BURST} charges with one key and different bodies: one charge; the others 409 or 422, never charged`, async () => {
      const base = nextAmount();
      for (let i = 1; i < BURST; i++) nextAmount();
      const key = newKey();
      const source = await token(m);
      const send = (i: number) =>
        api('POST', '/v1/charges', {
          key: m.secret_key,
          idem: key,
          body: { source, amount: base + i, currency: 'usd' },
        });
      await setFault({ path: '/v1/charges', method: 'POST', delay_ms: 400, after_effect: true });
      const burst = await Promise.all(Array.from({ length: BURST }, (_, i) => send(i))).finally(clearFaults);
      note(`same key, other bodies: ${JSON.stringify(statuses(burst))}`);
      const won = burst.map((r, i) => [r, i] as const).filter(([r]) => r.status === 201);
      expect(won.length, 'at most one winner').toBeLessThanOrEqual(1);
      // The winner may also have met Clover's timeout (504, pending, named); the others are refused.
      expect(burst.filter((r) => r.status === 201 || r.status === 504).length, 'one winner').toBeLessThanOrEqual(1);
      for (const r of burst) if (r.status !== 201 && r.status !== 504) expect([409, 422], r.text).toContain(r.status);
      // Once settled: the winner's body is replayed, every other body is a reuse.
      const again = await Promise.all(Array.from({ length: BURST }, (_, i) => untilSettled(() => send(i))));
      const winners = again.filter((r) => r.status === 201);
      expect(winners, 'exactly one body was charged').toHaveLength(1);
      for (const r of again) if (r.status !== 201) expect(r.body.error.code).toBe('idempotency_key_reused');
      expectCharges(1);
      const made = (await cloverCharges(m.merchant_id)).filter((c) => c.amount >= base && c.amount < base + BURST);
      expect(made).toHaveLength(1);
      expect(
        await cloverPosts('/v1/charges', (x) => x.body?.amount >= base && x.body?.amount < base + BURST),
      ).toHaveLength(1);
    });

    it('24 charges with 24 keys at once: 24 charges, each made once despite Clover’s rate limits', async () => {
      const n = 24;
      const sources = await tokens(m, n);
      const amounts = sources.map(() => nextAmount());
      const keys = sources.map(() => newKey());
      const send = (i: number) =>
        api('POST', '/v1/charges', {
          key: m.secret_key,
          idem: keys[i]!,
          body: { source: sources[i], amount: amounts[i], currency: 'usd' },
        });
      const first = await Promise.all(sources.map((_, i) => send(i)));
      note(`24 keys at once, first answers: ${JSON.stringify(statuses(first))}`);
      // Below 500, or Clover's timeout met under load: 504 with the pending charge named (docs/money.md).
      for (const r of first) {
        if (r.status === 504) expect(r.body.error.charge, r.text).toBeTruthy();
        else expect(r.status, r.text).toBeLessThan(500);
      }
      const settled = await Promise.all(first.map((r, i) => (r.status === 201 ? r : untilSettled(() => send(i), 30))));
      for (const r of settled) expect(r.status, r.text).toBe(201);
      expectCharges(n);
      const made = (await cloverCharges(m.merchant_id)).filter((c) => amounts.includes(c.amount));
      expect(made).toHaveLength(n);
      expect(new Set(made.map((c) => c.amount)).size).toBe(n);
    });

    it(`${BURST} captures of one authorisation with ${BURST} keys: captured once`, async () => {
      const amount = nextAmount();
      const auth = await chargeOnce(amount, false);
      const path = `/v1/charges/${auth.id}/capture`;
      const burst = await Promise.all(
        Array.from({ length: BURST }, () => api('POST', path, { key: m.secret_key, idem: newKey(), body: {} })),
      );
      note(`captures, many keys: ${JSON.stringify(statuses(burst))}`);
      const ok = burst.filter((r) => r.status === 200);
      expect(ok.length, 'one capture answered 200').toBeLessThanOrEqual(1);
      for (const r of burst) {
        if (r.status === 200) continue;
        expect([409, 429], r.text).toContain(r.status);
        expectErrorShape(r, 'losing capture');
      }
      const after = (await api('GET', `/v1/charges/${auth.id}`, { key: m.secret_key })).body;
      expect(after).toMatchObject({ captured: true, amount_captured: amount });
      const cloverPath = `/v1/charges/${auth.clover.charge_id}/capture`;
      expect(await cloverPosts(cloverPath, () => true), 'one capture reached Clover').toHaveLength(1);
    });

    it(`${BURST} captures with one key: captured once, every answer the same`, async () => {
      const amount = nextAmount();
      const auth = await chargeOnce(amount, false);
      const key = newKey();
      const send = () =>
        api('POST', `/v1/charges/${auth.id}/capture`, { key: m.secret_key, idem: key, body: { amount } });
      const burst = await Promise.all(Array.from({ length: BURST }, send));
      note(`captures, one key: ${JSON.stringify(statuses(burst))}`);
      const settled = await Promise.all(burst.map((r) => (r.status === 200 ? r : untilSettled(send))));
      for (const r of settled) expect(r.status, r.text).toBe(200);
      expect(await cloverPosts(`/v1/charges/${auth.clover.charge_id}/capture`, () => true)).toHaveLength(1);
    });

    it(`${BURST} partial refunds of one charge at once never refund more than was charged`, async () => {
      const ch = await chargeOnce(1000);
      const send = (key: string) =>
        api('POST', '/v1/refunds', { key: m.secret_key, idem: key, body: { charge: ch.id, amount: 300 } });
      const keys = Array.from({ length: BURST }, () => newKey());
      const burst = await Promise.all(keys.map(send));
      note(`partial refunds: ${JSON.stringify(statuses(burst))}`);
      const settled = await Promise.all(
        burst.map((r, i) => (r.status === 201 ? r : untilSettled(() => send(keys[i]!)))),
      );
      const refunded = settled.filter((r) => r.status === 201);
      expect(refunded.length).toBe(3);
      for (const r of settled) {
        if (r.status === 201) continue;
        expect(r.status, r.text).toBe(400);
        expect(r.body.error.code).toBe('amount_too_large');
      }
      const atClover = (await cloverCharges(m.merchant_id)).find((c) => c.id === ch.clover.charge_id)!;
      expect(atClover.amount_refunded).toBe(900);
      expect((await api('GET', `/v1/charges/${ch.id}`, { key: m.secret_key })).body.amount_refunded).toBe(900);
      const calls = await cloverPosts('/v1/refunds', (x) => x.body?.charge === ch.clover.charge_id);
      expect(calls, 'one Clover refund call per refund made').toHaveLength(3);
    });

    it(`${BURST} full refunds with ${BURST} keys: refunded once`, async () => {
      const ch = await chargeOnce(nextAmount());
      const keys = Array.from({ length: BURST }, () => newKey());
      const send = (key: string) =>
        api('POST', '/v1/refunds', { key: m.secret_key, idem: key, body: { charge: ch.id } });
      const burst = await Promise.all(keys.map(send));
      note(`full refunds: ${JSON.stringify(statuses(burst))}`);
      const settled = await Promise.all(
        burst.map((r, i) => (r.status === 201 ? r : untilSettled(() => send(keys[i]!)))),
      );
      expect(settled.filter((r) => r.status === 201)).toHaveLength(1);
      for (const r of settled) if (r.status !== 201) expect(r.body.error.code, r.text).toBe('charge_already_refunded');
      expect(await cloverPosts('/v1/refunds', (x) => x.body?.charge === ch.clover.charge_id)).toHaveLength(1);
    });

    it(`${BURST} pays of one checkout session with ${BURST} keys and cards: one payment`, async () => {
      const amount = nextAmount();
      const s = (await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount, currency: 'usd' } }))
        .body;
      const sources = await tokens(m, BURST);
      const keys = sources.map(() => newKey());
      const send = (i: number) =>
        api('POST', `/v1/checkout-sessions/${s.id}/pay`, {
          key: m.publishable_key,
          idem: keys[i]!,
          body: { client_secret: s.client_secret, source: sources[i] },
        });
      const burst = await Promise.all(sources.map((_, i) => send(i)));
      note(`session pays, many keys: ${JSON.stringify(statuses(burst))}`);
      const settled = await Promise.all(burst.map((r, i) => (r.status === 201 ? r : untilSettled(() => send(i)))));
      const paid = settled.filter((r) => r.status === 201);
      expect(paid).toHaveLength(1);
      for (const r of settled) {
        if (r.status === 201) continue;
        expect(r.status, r.text).toBe(409);
        expect(r.body.error.code).toBe('session_not_open');
      }
      expectCharges(1);
      expect((await cloverCharges(m.merchant_id)).filter((c) => c.amount === amount)).toHaveLength(1);
      const session = (await api('GET', `/v1/checkout-sessions/${s.id}`, { key: m.secret_key })).body;
      expect(session).toMatchObject({ status: 'paid', charge: paid[0]!.body.id });
    });

    it(`${BURST} pays of one session with one key: one payment`, async () => {
      const amount = nextAmount();
      const s = (await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount, currency: 'usd' } }))
        .body;
      const key = newKey();
      const body = { client_secret: s.client_secret, source: await token(m) };
      const send = () => api('POST', `/v1/checkout-sessions/${s.id}/pay`, { key: m.publishable_key, idem: key, body });
      await setFault({ path: '/v1/charges', method: 'POST', delay_ms: 400, after_effect: true });
      const burst = await Promise.all(Array.from({ length: BURST }, send)).finally(clearFaults);
      note(`session pays, one key: ${JSON.stringify(statuses(burst))}`);
      const settled = await Promise.all(burst.map((r) => (r.status === 201 ? r : untilSettled(send))));
      for (const r of settled) expect(r.status, r.text).toBe(201);
      expect(new Set(settled.map((r) => r.body.id)).size).toBe(1);
      expectCharges(1);
      expect((await cloverCharges(m.merchant_id)).filter((c) => c.amount === amount)).toHaveLength(1);
    });

    accountingTest(() => [m.merchant_id]);
  });
}
