/**
 * A capture and a whole refund of one uncaptured charge, sent at once. Before the capture a whole
 * refund is a void (the authorisation is released, the charge `canceled`); after it, a refund of
 * what was captured. Whatever the interleaving, the outcome must be one of those two stories —
 * never a charge that is both released and captured.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { api, emulator, newKey, newMerchant } from '../../helpers/platform';
import { chargeId, cloverRequestsOf, type Merchant } from './helpers';

let m: Merchant;

beforeAll(async () => {
  await emulator('POST', '/_emulator/config', { rate_limits: false });
  m = await newMerchant();
});

describe('capture racing a whole refund of the authorisation', () => {
  it('ends as "voided, not captured" or "captured, then refunded", at our side and at Clover', async () => {
    for (let round = 0; round < 6; round++) {
      const id = await chargeId(m, { amount: 1000, capture: false });
      const [cap, refund] = await Promise.all([
        api('POST', `/v1/charges/${id}/capture`, { key: m.secret_key, idem: newKey(), body: {} }),
        api('POST', '/v1/refunds', { key: m.secret_key, idem: newKey(), body: { charge: id } }),
      ]);
      const after = (await api('GET', `/v1/charges/${id}`, { key: m.secret_key })).body;
      const story = `capture ${cap.status} ${cap.body.error?.code ?? ''} / refund ${refund.status} ${refund.body.error?.code ?? ''}`;
      const cloverId = after.clover.charge_id as string;
      const atClover = (await cloverRequestsOf(m.merchant_id, '/v1/')).filter(
        (r) => r.method === 'POST' && JSON.stringify(r).includes(cloverId) && r.path !== '/v1/charges',
      );
      const cloverCaptures = atClover.filter((r) => r.path.endsWith('/capture'));
      const cloverRefunds = atClover.filter((r) => r.path === '/v1/refunds');
      if (after.status === 'canceled') {
        // The void won: no capture, at our side or at Clover.
        expect(refund.status, story).toBe(201);
        expect(cap.status, story).toBe(409);
        expect(after.captured, story).toBe(false);
        expect(cloverCaptures, story).toHaveLength(0);
        expect(cloverRefunds, story).toHaveLength(1);
      } else {
        // The capture won; the refund either came after it (whole captured amount) or was refused.
        expect(cap.status, story).toBe(200);
        expect(after).toMatchObject({ status: 'succeeded', captured: true, amount_captured: 1000 });
        expect([201, 409], story).toContain(refund.status);
        expect(after.amount_refunded, story).toBe(refund.status === 201 ? 1000 : 0);
        expect(cloverCaptures, story).toHaveLength(1);
        expect(cloverRefunds, story).toHaveLength(refund.status === 201 ? 1 : 0);
        if (refund.status === 201) expect(cloverRefunds[0]!.body.amount, story).toBe(1000);
      }
    }
  });
});
