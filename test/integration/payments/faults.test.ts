// Lost and failed Clover answers (API.md §1.3, §2.4 `pending`): the charge is recorded before Clover
// is called, an unknown outcome leaves it pending, and a retry or the reconciler re-sends it with
// the same Clover idempotency key, so it is never charged twice.
//
// Every fault-injecting payment test lives in this file. Faults are global in the emulator, so each
// one is set immediately before the request it is meant for, strikes once (`times: 1` unless the
// test needs more) and is cleared right after, to keep it off requests of test files running beside.

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { api, emulator, invoke, newKey, newMerchant } from '../../helpers/platform';
import { CARDS, chargeId, cloverCharges, cloverRequestsOf, type Merchant, tokenFor } from './helpers';

let m: Merchant;
beforeAll(async () => {
  m = await newMerchant();
});
afterEach(clearFaults);

async function clearFaults(): Promise<void> {
  await emulator('DELETE', '/_emulator/faults');
}

/** Sends `request` with `fault` in place at the emulator, and clears it as soon as the answer is in. */
async function underFault<T>(fault: Record<string, unknown>, request: () => Promise<T>): Promise<T> {
  const set = await emulator('POST', '/_emulator/faults', { times: 1, ...fault });
  expect(set.status).toBe(201);
  try {
    return await request();
  } finally {
    await clearFaults();
  }
}

const getCharge = async (id: string) => (await api('GET', `/v1/charges/${id}`, { key: m.secret_key })).body;
const postCharge = (body: Record<string, unknown>, idem: string) =>
  api('POST', '/v1/charges', { key: m.secret_key, idem, body });
const reconcile = () => invoke<Record<string, number>>('reconciler', { grace_ms: 0 });
const newCharges = async (before: number) => {
  const all = await cloverCharges(m.merchant_id);
  return all.slice(0, all.length - before);
};

describe('a charge whose answer is lost after Clover made it', () => {
  it('is answered 502 api_error with the pending charge, resolved by the reconciler, charged once', async () => {
    const key = newKey();
    const body = { source: await tokenFor(m), amount: 4321, currency: 'usd' };
    const before = (await cloverCharges(m.merchant_id)).length;

    const lost = await underFault({ path: '/v1/charges', method: 'POST', drop: true, after_effect: true }, () =>
      postCharge(body, key),
    );
    expect([502, 503, 504]).toContain(lost.status);
    expect(lost.body.error).toMatchObject({
      type: 'api_error',
      charge: expect.stringMatching(/^ch_/),
      request_id: lost.headers.get('request-id'),
    });
    const id = lost.body.error.charge as string;
    expect(await getCharge(id)).toMatchObject({ id, status: 'pending', amount: 4321 });
    // Clover did make it.
    const made = await newCharges(before);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ amount: 4321, status: 'succeeded' });

    const report = await reconcile();
    expect(report.resolved).toBeGreaterThanOrEqual(1);
    expect(await getCharge(id)).toMatchObject({
      id,
      status: 'succeeded',
      captured: true,
      amount_captured: 4321,
      clover: { charge_id: made[0]!.id },
    });

    const retry = await postCharge(body, key);
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id, status: 'succeeded', clover: { charge_id: made[0]!.id } });
    expect(await newCharges(before)).toHaveLength(1);
  });

  it('is resolved by the caller’s retry with the same key, charged once', async () => {
    const key = newKey();
    const body = { source: await tokenFor(m), amount: 1717, currency: 'usd' };
    const before = (await cloverCharges(m.merchant_id)).length;
    const lost = await underFault({ path: '/v1/charges', method: 'POST', drop: true, after_effect: true }, () =>
      postCharge(body, key),
    );
    expect(lost.body.error.type).toBe('api_error');
    const id = lost.body.error.charge;

    const retry = await postCharge(body, key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(retry.body).toMatchObject({ id, status: 'succeeded', amount: 1717 });
    const made = await newCharges(before);
    expect(made).toHaveLength(1);
    expect(retry.body.clover.charge_id).toBe(made[0]!.id);
    // Both Clover calls carried the same Clover idempotency key.
    const sent = (await cloverRequestsOf(m.merchant_id, '/v1/charges')).filter(
      (r) => r.method === 'POST' && r.body?.amount === 1717,
    );
    expect(sent).toHaveLength(2);
    expect(sent[0]!.headers['idempotency-key']).toBeTruthy();
    expect(sent[1]!.headers['idempotency-key']).toBe(sent[0]!.headers['idempotency-key']);

    const replay = await postCharge(body, key);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(retry.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    // The reconciler finds nothing of it to do.
    await reconcile();
    expect(await newCharges(before)).toHaveLength(1);
  });

  it('that was a decline is resolved as failed, and the caller’s retry gets the 402', async () => {
    const key = newKey();
    const body = { source: await tokenFor(m, CARDS.decline), amount: 999, currency: 'usd' };
    const lost = await underFault({ path: '/v1/charges', method: 'POST', drop: true, after_effect: true }, () =>
      postCharge(body, key),
    );
    const id = lost.body.error.charge;
    expect(await getCharge(id)).toMatchObject({ status: 'pending' });
    await reconcile();
    expect(await getCharge(id)).toMatchObject({ status: 'failed', failure_code: 'card_declined' });
    const retry = await postCharge(body, key);
    expect(retry.status).toBe(402);
    expect(retry.body.error).toMatchObject({ code: 'card_declined', charge: id });
  });
});

describe('a charge Clover fails with a 5xx', () => {
  it('is pending with 502; a retry while Clover still fails gets the same kind of error, then the real outcome', async () => {
    const key = newKey();
    const body = { source: await tokenFor(m), amount: 5500, currency: 'usd' };
    const before = (await cloverCharges(m.merchant_id)).length;
    const fault = { path: '/v1/charges', method: 'POST', status: 503, body: { message: 'Service Unavailable' } };

    const first = await underFault(fault, () => postCharge(body, key));
    expect([502, 503, 504]).toContain(first.status);
    expect(first.body.error).toMatchObject({ type: 'api_error', charge: expect.stringMatching(/^ch_/) });
    const id = first.body.error.charge;
    expect(await getCharge(id)).toMatchObject({ status: 'pending' });

    const second = await underFault(fault, () => postCharge(body, key));
    expect([502, 503, 504]).toContain(second.status);
    expect(second.body.error).toMatchObject({ type: 'api_error', charge: id });
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(await newCharges(before)).toHaveLength(0);

    const third = await postCharge(body, key);
    expect(third.status).toBe(201);
    expect(third.body).toMatchObject({ id, status: 'succeeded', amount: 5500 });
    expect(await newCharges(before)).toHaveLength(1);
  });
});

describe('a capture whose answer is lost', () => {
  it('is answered as an api_error; the retry with the same key captures once', async () => {
    const ch = await getCharge(await chargeId(m, { capture: false, amount: 880 }));
    const key = newKey();
    const path = `/v1/charges/${ch.clover.charge_id}/capture`;
    const lost = await underFault({ path, method: 'POST', drop: true, after_effect: true }, () =>
      api('POST', `/v1/charges/${ch.id}/capture`, { key: m.secret_key, idem: key, body: {} }),
    );
    expect([502, 503, 504]).toContain(lost.status);
    expect(lost.body.error.type).toBe('api_error');
    const retry = await api('POST', `/v1/charges/${ch.id}/capture`, { key: m.secret_key, idem: key, body: {} });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: ch.id, captured: true, amount_captured: 880 });
    const atClover = (await cloverCharges(m.merchant_id)).find((c) => c.id === ch.clover.charge_id);
    expect(atClover).toMatchObject({ captured: true, amount_captured: 880 });
  });
});

describe('a capture whose answer is lost and nobody retries', () => {
  it('is resolved by the reconciler: captured once, another capture refused meanwhile', async () => {
    const ch = await getCharge(await chargeId(m, { capture: false, amount: 770 }));
    const path = `/v1/charges/${ch.clover.charge_id}/capture`;
    const lost = await underFault({ path, method: 'POST', drop: true, after_effect: true }, () =>
      api('POST', `/v1/charges/${ch.id}/capture`, { key: m.secret_key, idem: newKey(), body: { amount: 700 } }),
    );
    expect([502, 503, 504]).toContain(lost.status);
    expect(await getCharge(ch.id)).toMatchObject({ captured: false });
    // While the outcome is unknown, a capture under another key must not reach Clover.
    const other = await api('POST', `/v1/charges/${ch.id}/capture`, { key: m.secret_key, idem: newKey(), body: {} });
    expect(other.status).toBe(409);
    const report = await reconcile();
    expect(report.resolved).toBeGreaterThanOrEqual(1);
    expect(await getCharge(ch.id)).toMatchObject({ captured: true, amount_captured: 700 });
    const captures = (await cloverRequestsOf(m.merchant_id, path)).filter((r) => r.method === 'POST');
    // Only the lost one: the reconciler looked the capture up at Clover (our id in metadata) and found
    // it made, instead of re-sending it.
    expect(captures).toHaveLength(1);
    const atClover = (await cloverCharges(m.merchant_id)).find((c) => c.id === ch.clover.charge_id);
    expect(atClover).toMatchObject({ captured: true, amount_captured: 700 });
  });
});

describe('a refund whose answer is lost', () => {
  it('is answered as an api_error, resolved by the reconciler, refunded once', async () => {
    const id = await chargeId(m, { amount: 1000 });
    const ch = await getCharge(id);
    const key = newKey();
    const lost = await underFault({ path: '/v1/refunds', method: 'POST', drop: true, after_effect: true }, () =>
      api('POST', '/v1/refunds', { key: m.secret_key, idem: key, body: { charge: id, amount: 400 } }),
    );
    expect([502, 503, 504]).toContain(lost.status);
    expect(lost.body.error.type).toBe('api_error');
    // The reservation holds while the outcome is unknown: no more than the rest can be refunded meanwhile.
    const over = await api('POST', '/v1/refunds', {
      key: m.secret_key,
      idem: newKey(),
      body: { charge: id, amount: 700 },
    });
    expect(over.status).toBe(400);
    expect(over.body.error.code).toBe('amount_too_large');

    await reconcile();
    expect(await getCharge(id)).toMatchObject({ amount_refunded: 400, refunded: false });
    const atClover = (await cloverCharges(m.merchant_id)).find((c) => c.id === ch.clover.charge_id);
    expect(atClover).toMatchObject({ amount_refunded: 400 });

    const retry = await api('POST', '/v1/refunds', { key: m.secret_key, idem: key, body: { charge: id, amount: 400 } });
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ charge: id, amount: 400, status: 'succeeded' });
    expect((await getCharge(id)).amount_refunded).toBe(400);
  });
});

describe('a checkout session pay whose answer is lost', () => {
  it('holds the session for that charge: another card cannot pay it, and the reconciler marks it paid', async () => {
    const s = (
      await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount: 2600, currency: 'usd' } })
    ).body;
    const pay = async (idem: string) =>
      api('POST', `/v1/checkout-sessions/${s.id}/pay`, {
        key: m.publishable_key,
        idem,
        body: { client_secret: s.client_secret, source: await tokenFor(m) },
      });
    const before = (await cloverCharges(m.merchant_id)).length;
    const source = await tokenFor(m);
    const lost = await underFault({ path: '/v1/charges', method: 'POST', drop: true, after_effect: true }, () =>
      api('POST', `/v1/checkout-sessions/${s.id}/pay`, {
        key: m.publishable_key,
        idem: newKey(),
        body: { client_secret: s.client_secret, source },
      }),
    );
    expect(lost.body.error).toMatchObject({ type: 'api_error', charge: expect.stringMatching(/^ch_/) });
    const id = lost.body.error.charge;

    const other = await pay(newKey());
    expect(other.status).toBe(409);
    expect(await newCharges(before)).toHaveLength(1);

    await reconcile();
    const session = await api('GET', `/v1/checkout-sessions/${s.id}`, { key: m.secret_key });
    expect(session.body).toMatchObject({ status: 'paid', charge: id });
    expect(await getCharge(id)).toMatchObject({ status: 'succeeded', amount: 2600, checkout_session: s.id });
    const late = await pay(newKey());
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('session_not_open');
    expect(await newCharges(before)).toHaveLength(1);
  });
});

describe('Clover rate limiting a capture', () => {
  it('is answered 429 rate_limit_error with Retry-After, and the same key may be retried', async () => {
    const ch = await getCharge(await chargeId(m, { capture: false, amount: 330 }));
    const key = newKey();
    const capture = () => api('POST', `/v1/charges/${ch.id}/capture`, { key: m.secret_key, idem: key, body: {} });
    const limited = await underFault(
      {
        path: `/v1/charges/${ch.clover.charge_id}/capture`,
        method: 'POST',
        status: 429,
        times: 20,
        body: { message: 'Too many requests', error: { code: 'rate_limit', message: 'Too many requests' } },
      },
      capture,
    );
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({
      type: 'rate_limit_error',
      request_id: limited.headers.get('request-id'),
    });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await getCharge(ch.id)).toMatchObject({ captured: false });

    const retry = await capture();
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ captured: true, amount_captured: 330 });
  });
});

describe('retries of unresolved requests whose pending write makes them look refused', () => {
  it('a whole refund whose answer was lost is completed by the caller’s retry, not refused as refunded', async () => {
    const id = await chargeId(m, { amount: 610 });
    const key = newKey();
    const refund = () => api('POST', '/v1/refunds', { key: m.secret_key, idem: key, body: { charge: id } });
    const lost = await underFault({ path: '/v1/refunds', method: 'POST', drop: true, after_effect: true }, refund);
    expect(lost.body.error.type).toBe('api_error');
    const retry = await refund();
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ charge: id, amount: 610, status: 'succeeded' });
    expect(await getCharge(id)).toMatchObject({ amount_refunded: 610, refunded: true });
    const ch = await getCharge(id);
    const atClover = (await cloverCharges(m.merchant_id)).find((c) => c.id === ch.clover.charge_id);
    expect(atClover).toMatchObject({ amount_refunded: 610 });
  });

  it('a session pay whose answer was lost is completed by the browser’s retry with the same key', async () => {
    const s = (
      await api('POST', '/v1/checkout-sessions', { key: m.secret_key, body: { amount: 720, currency: 'usd' } })
    ).body;
    const key = newKey();
    const body = { client_secret: s.client_secret, source: await tokenFor(m) };
    const pay = () => api('POST', `/v1/checkout-sessions/${s.id}/pay`, { key: m.publishable_key, idem: key, body });
    const lost = await underFault({ path: '/v1/charges', method: 'POST', drop: true, after_effect: true }, pay);
    expect(lost.body.error.type).toBe('api_error');
    const retry = await pay();
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id: lost.body.error.charge, amount: 720, checkout_session: s.id });
    const session = await api('GET', `/v1/checkout-sessions/${s.id}`, { key: m.secret_key });
    expect(session.body).toMatchObject({ status: 'paid', charge: retry.body.id });
  });
});
