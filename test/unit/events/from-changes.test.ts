import { describe, expect, it } from 'vitest';
import { eventsFromChange, type Image } from '../../../shared/events/from-changes';

const M = 'MERCHANT00001';
const charge = (over: Image = {}): Image => ({
  pk: `MERCHANT#${M}`,
  sk: 'CHARGE#ch_1',
  object: 'charge',
  id: 'ch_1',
  merchant_id: M,
  amount: 1099,
  currency: 'usd',
  status: 'pending',
  capture: true,
  captured: false,
  amount_captured: 0,
  amount_refunded: 0,
  source: null,
  clover: { charge_id: null },
  clover_request: { idempotency_key: 'secret-ish' },
  created: '2026-11-30T10:00:00.000Z',
  updated: '2026-11-30T10:00:00.000Z',
  ...over,
});
const refund = (over: Image = {}): Image => ({
  pk: `MERCHANT#${M}`,
  sk: 'REFUND#re_1',
  object: 'refund',
  id: 're_1',
  merchant_id: M,
  charge: 'ch_1',
  amount: 500,
  currency: 'usd',
  status: 'pending',
  reason: null,
  clover: { refund_id: null },
  created: '2026-11-30T10:00:00.000Z',
  updated: '2026-11-30T10:00:00.000Z',
  ...over,
});
const session = (over: Image = {}): Image => ({
  pk: `MERCHANT#${M}`,
  sk: 'SESSION#cs_1',
  object: 'checkout_session',
  id: 'cs_1',
  merchant_id: M,
  client_secret: 'cs_1_secret_x',
  amount: 1099,
  currency: 'usd',
  status: 'open',
  charge: null,
  expires_at: '2999-01-01T00:00:00.000Z',
  created: '2026-11-30T10:00:00.000Z',
  ...over,
});
const merchant = (over: Image = {}): Image => ({
  pk: `MERCHANT#${M}`,
  sk: 'MERCHANT',
  merchant_id: M,
  status: 'provisioning',
  pakms_key: 'pakms-secret',
  updated_at: '2026-11-30T10:00:00.000Z',
  ...over,
});

const types = (eventName: 'INSERT' | 'MODIFY' | 'REMOVE', oldImage: Image | undefined, newImage: Image | undefined) =>
  eventsFromChange({ eventName, oldImage, newImage }).map((e) => e.type);

describe('eventsFromChange: one table row per transition (docs/events.md)', () => {
  it.each([
    ['charge pending → succeeded', charge(), charge({ status: 'succeeded', captured: true }), ['charge.succeeded']],
    ['charge pending → failed', charge(), charge({ status: 'failed' }), ['charge.failed']],
    [
      'charge pending → pending, first unknown outcome',
      charge(),
      charge({ updated: '2026-11-30T10:00:08.000Z' }),
      ['charge.pending'],
    ],
    [
      'charge still pending on a later retry: no second charge.pending',
      charge({ updated: '2026-11-30T10:00:08.000Z' }),
      charge({ updated: '2026-11-30T10:01:08.000Z' }),
      [],
    ],
    [
      'charge captured later',
      charge({ status: 'succeeded', captured: false }),
      charge({ status: 'succeeded', captured: true, amount_captured: 1099 }),
      ['charge.captured'],
    ],
    [
      'charge partly refunded',
      charge({ status: 'succeeded', captured: true, amount_captured: 1099 }),
      charge({ status: 'succeeded', captured: true, amount_captured: 1099, amount_refunded: 500 }),
      ['charge.refunded'],
    ],
    ['uncaptured charge voided', charge({ status: 'succeeded' }), charge({ status: 'canceled' }), ['charge.refunded']],
    ['charge → needs_attention', charge(), charge({ status: 'needs_attention' }), ['charge.needs_attention']],
    [
      'a refund reservation on the charge: no event',
      charge({ status: 'succeeded', captured: true }),
      charge({ status: 'succeeded', captured: true, amount_refund_pending: 500 }),
      [],
    ],
    ['refund pending → succeeded', refund(), refund({ status: 'succeeded' }), ['refund.succeeded']],
    ['refund pending → failed', refund(), refund({ status: 'failed' }), ['refund.failed']],
    ['refund → needs_attention', refund(), refund({ status: 'needs_attention' }), ['refund.needs_attention']],
    ['session open → paid', session(), session({ status: 'paid', charge: 'ch_1' }), ['checkout_session.paid']],
    ['session pay lock taken: no event', session(), session({ pay_lock: 'ch_1' }), []],
    ['merchant provisioning → active', merchant(), merchant({ status: 'active' }), ['merchant.installed']],
    [
      'merchant active → disabled',
      merchant({ status: 'active' }),
      merchant({ status: 'disabled' }),
      ['merchant.uninstalled'],
    ],
    [
      'merchant active → needs_reauth',
      merchant({ status: 'active' }),
      merchant({ status: 'needs_reauth' }),
      ['merchant.needs_reauth'],
    ],
    [
      'merchant needs_reauth → active',
      merchant({ status: 'needs_reauth' }),
      merchant({ status: 'active' }),
      ['merchant.installed'],
    ],
    [
      'merchant active → active (token refresh)',
      merchant({ status: 'active' }),
      merchant({ status: 'active', updated_at: 'x' }),
      [],
    ],
  ])('%s', (_name, before, after, expected) => {
    expect(types('MODIFY', before, after)).toEqual(expected);
  });

  it('an item inserted in a final state gets its event; a pending insert gets none', () => {
    expect(types('INSERT', undefined, charge())).toEqual([]);
    expect(types('INSERT', undefined, charge({ status: 'succeeded', captured: true }))).toEqual(['charge.succeeded']);
    expect(types('INSERT', undefined, refund({ status: 'succeeded' }))).toEqual(['refund.succeeded']);
    expect(types('INSERT', undefined, merchant({ status: 'active' }))).toEqual(['merchant.installed']);
  });

  it('removes (TTL, deletes) and other items emit nothing', () => {
    expect(types('REMOVE', charge({ status: 'succeeded' }), undefined)).toEqual([]);
    for (const sk of ['IDEM#x#y', 'EVENT#evt_1', 'EVDLV#evt_1#dlv_1', 'KEY#k', 'LEASE#OAUTH']) {
      expect(
        types('MODIFY', { sk, status: 'pending', merchant_id: M }, { sk, status: 'succeeded', merchant_id: M }),
      ).toEqual([]);
    }
  });

  it('an endpoint disabled for failing emits webhook_endpoint.disabled, without its secrets', () => {
    const ep = {
      pk: `MERCHANT#${M}`,
      sk: 'WHEP#we_1',
      id: 'we_1',
      url: 'https://x',
      status: 'enabled',
      secrets: [{ secret: 'whsec_x' }],
    };
    const [e] = eventsFromChange({
      eventName: 'MODIFY',
      oldImage: ep,
      newImage: { ...ep, status: 'disabled', disabled_reason: 'failing' },
    });
    expect(e?.type).toBe('webhook_endpoint.disabled');
    expect(JSON.stringify(e?.object)).not.toContain('whsec_');
  });

  it('snapshots are the public objects: no client secret, no Clover request, no PAKMS key', () => {
    const all = [
      ...eventsFromChange({ eventName: 'MODIFY', oldImage: charge(), newImage: charge({ status: 'succeeded' }) }),
      ...eventsFromChange({ eventName: 'MODIFY', oldImage: session(), newImage: session({ status: 'paid' }) }),
      ...eventsFromChange({ eventName: 'MODIFY', oldImage: merchant(), newImage: merchant({ status: 'active' }) }),
    ];
    expect(all.map((e) => e.object.object)).toEqual(['charge', 'checkout_session', 'merchant']);
    const text = JSON.stringify(all);
    for (const leak of ['secret-ish', 'cs_1_secret_x', 'pakms-secret']) expect(text).not.toContain(leak);
    expect(all.every((e) => e.merchantId === M)).toBe(true);
  });
});
