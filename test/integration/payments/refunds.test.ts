// POST /v1/refunds (API.md §2.3, §2.4): partial, whole remainder, voids of authorisations, and
// concurrent refunds that together ask for more than was captured.

import { beforeAll, describe, expect, it } from 'vitest';
import { api, newKey, newMerchant } from '../../helpers/platform';
import { CARDS, charge, chargeId, cloverCharges, ISO_DATE, type Merchant, missingId } from './helpers';

let m: Merchant;
beforeAll(async () => {
  m = await newMerchant();
});

const refund = (body: Record<string, unknown>, idem: string = newKey()) =>
  api('POST', '/v1/refunds', { key: m.secret_key, idem, body });
const getCharge = async (id: string) => (await api('GET', `/v1/charges/${id}`, { key: m.secret_key })).body;
const atClover = async (cloverId: string) => (await cloverCharges(m.merchant_id)).find((c) => c.id === cloverId)!;

describe('POST /v1/refunds', () => {
  it('refunds part of a charge: 201 refund object, and the charge and Clover agree', async () => {
    const ch = (await charge(m, { amount: 1000 })).body;
    const r = await refund({ charge: ch.id, amount: 300, reason: 'requested_by_customer' });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      id: expect.stringMatching(/^re_[0-9a-z]+$/),
      object: 'refund',
      charge: ch.id,
      amount: 300,
      currency: 'usd',
      status: 'succeeded',
      reason: 'requested_by_customer',
      clover: { refund_id: expect.stringMatching(/^[0-9A-Z]{13}$/) },
      created: expect.stringMatching(ISO_DATE),
    });
    expect(await getCharge(ch.id)).toMatchObject({ status: 'succeeded', amount_refunded: 300, refunded: false });
    expect(await atClover(ch.clover.charge_id)).toMatchObject({ amount_refunded: 300, refunded: false });
  });

  it('refunds the whole remainder without amount, then answers 409 charge_already_refunded', async () => {
    const id = await chargeId(m, { amount: 1000 });
    expect((await refund({ charge: id, amount: 250 })).status).toBe(201);
    const rest = await refund({ charge: id });
    expect(rest.status).toBe(201);
    expect(rest.body).toMatchObject({ amount: 750, reason: null, status: 'succeeded' });
    const ch = await getCharge(id);
    expect(ch).toMatchObject({ amount_refunded: 1000, refunded: true });
    expect(await atClover(ch.clover.charge_id)).toMatchObject({ amount_refunded: 1000, refunded: true });

    for (const body of [{ charge: id }, { charge: id, amount: 1 }]) {
      const again = await refund(body);
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({ type: 'invalid_request_error', code: 'charge_already_refunded' });
    }
  });

  it('refuses more than remains with 400 amount_too_large, and refunds nothing', async () => {
    const id = await chargeId(m, { amount: 1000 });
    expect((await refund({ charge: id, amount: 600 })).status).toBe(201);
    const r = await refund({ charge: id, amount: 401 });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'amount_too_large', param: 'amount' });
    expect(await getCharge(id)).toMatchObject({ amount_refunded: 600 });
    expect((await refund({ charge: id, amount: 400 })).status).toBe(201);
  });

  it('refunds only what a partial capture took', async () => {
    const auth = (await charge(m, { amount: 1000, capture: false })).body;
    expect(
      (
        await api('POST', `/v1/charges/${auth.id}/capture`, {
          key: m.secret_key,
          idem: newKey(),
          body: { amount: 400 },
        })
      ).status,
    ).toBe(200);
    const over = await refund({ charge: auth.id, amount: 401 });
    expect(over.status).toBe(400);
    expect(over.body.error.code).toBe('amount_too_large');
    const all = await refund({ charge: auth.id });
    expect(all.status).toBe(201);
    expect(all.body.amount).toBe(400);
    expect(await getCharge(auth.id)).toMatchObject({ amount_captured: 400, amount_refunded: 400, refunded: true });
  });

  it('releases an uncaptured authorisation whole: status canceled on the charge', async () => {
    const auth = (await charge(m, { amount: 1000, capture: false })).body;
    const part = await refund({ charge: auth.id, amount: 500 });
    expect(part.status).toBe(400);
    expect(part.body.error).toMatchObject({ type: 'invalid_request_error', param: 'amount' });
    expect(await getCharge(auth.id)).toMatchObject({ status: 'succeeded', captured: false });

    const r = await refund({ charge: auth.id });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ charge: auth.id, amount: 1000, status: 'succeeded' });
    expect(await getCharge(auth.id)).toMatchObject({ status: 'canceled', captured: false, amount_captured: 0 });
    expect(await atClover(auth.clover.charge_id)).toMatchObject({ captured: false, refunded: true });

    const again = await refund({ charge: auth.id });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('charge_already_refunded');
    const capture = await api('POST', `/v1/charges/${auth.id}/capture`, {
      key: m.secret_key,
      idem: newKey(),
      body: {},
    });
    expect(capture.status).toBe(409);
    expect(capture.body.error.code).toBe('charge_not_capturable');
  });

  it('accepts the whole authorised amount, stated, as a release too', async () => {
    const auth = (await charge(m, { amount: 700, capture: false })).body;
    const r = await refund({ charge: auth.id, amount: 700 });
    expect(r.status).toBe(201);
    expect(await getCharge(auth.id)).toMatchObject({ status: 'canceled' });
  });

  it('refuses to refund a failed charge with 409', async () => {
    const declined = await charge(m, {}, { number: CARDS.decline });
    const r = await refund({ charge: declined.body.error.charge });
    expect(r.status).toBe(409);
    expect(r.body.error.type).toBe('invalid_request_error');
  });

  it.each([
    ['a well-formed id that names nothing', missingId('ch')],
    ['a malformed id', 'ch_nope'],
  ])('answers 404 resource_missing for %s', async (_what, id) => {
    const r = await refund({ charge: id });
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'resource_missing', param: 'charge' });
  });

  it.each([
    ['amount 0', { amount: 0 }, 'amount'],
    ['a float amount', { amount: 1.5 }, 'amount'],
    ['a string amount', { amount: '100' }, 'amount'],
    ['an unknown reason', { reason: 'changed_mind' }, 'reason'],
    ['an unknown field', { currency: 'usd' }, 'currency'],
  ])('refuses %s with 400 naming the param', async (_what, extra, param) => {
    const r = await refund({ charge: missingId('ch'), ...extra });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param });
  });

  it('refuses a body without charge with 400', async () => {
    const r = await refund({ amount: 100 });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'charge' });
  });
});

describe('concurrent refunds of one charge', () => {
  it('never refund more than was captured, here or at Clover (10 × 300 of 1000)', async () => {
    const ch = (await charge(m, { amount: 1000 })).body;
    const answers = await Promise.all(Array.from({ length: 10 }, () => refund({ charge: ch.id, amount: 300 })));
    for (const a of answers) expect([201, 400, 409, 429]).toContain(a.status);
    const refunded = answers.filter((a) => a.status === 201).reduce((sum, a) => sum + a.body.amount, 0);
    expect(refunded).toBeGreaterThan(0);
    expect(refunded).toBeLessThanOrEqual(1000);
    const ours = await getCharge(ch.id);
    expect(ours.amount_refunded).toBe(refunded);
    const theirs = await atClover(ch.clover.charge_id);
    expect(theirs.amount_refunded).toBe(refunded);
  });

  it('never refund more than was captured with mixed amounts and whole-remainder refunds', async () => {
    const ch = (await charge(m, { amount: 1000 })).body;
    const bodies = [400, undefined, 350, 250, undefined, 600, 100, 999, 1, undefined];
    const answers = await Promise.all(
      bodies.map((amount) => refund(amount === undefined ? { charge: ch.id } : { charge: ch.id, amount })),
    );
    for (const a of answers) expect([201, 400, 409, 429]).toContain(a.status);
    const refunded = answers.filter((a) => a.status === 201).reduce((sum, a) => sum + a.body.amount, 0);
    expect(refunded).toBeLessThanOrEqual(1000);
    expect((await getCharge(ch.id)).amount_refunded).toBe(refunded);
    expect((await atClover(ch.clover.charge_id)).amount_refunded).toBe(refunded);
  });
});
