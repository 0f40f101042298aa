/**
 * Scenario 1: Clover failing, through the emulator's faults — 500, 502, 503, exhausted 429s,
 * answers slower than our timeout, connections dropped before and after the request took effect —
 * on every Clover call we make: tokens, charges, captures, refunds, the PAKMS call and the code
 * exchange of an install, and the OAuth refresh. Plus Clover's own rate limiter answering 429 with
 * `retry-after`. For each: the caller gets the documented status (API.md §1.2, §1.3), every
 * attempt is in the ledger, nothing is charged twice, and what is pending ends resolved by a retry
 * with the same key or by the reconciler.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  accountingTest,
  describeRes,
  expectCharges,
  expectErrorShape,
  finding,
  nextAmount,
  note,
  reconcileAll,
  scenario,
} from '../common';
import {
  api,
  CLOVER_TIMEOUT_MS,
  clearFaults,
  cloverCharges,
  cloverRequests,
  emulator,
  expYear,
  harness,
  installCallbackPath,
  type Merchant,
  merchantAccessToken,
  merchantItems,
  newCloverMerchant,
  newKey,
  onboard,
  type Res,
  setFault,
  sleep,
  token,
  untilSettled,
} from '../harness';

/** Our fixed timeout for the OAuth and PAKMS calls (shared/onboarding.ts, shared/oauth/access-token.ts). */
const ONBOARDING_TIMEOUT_MS = 5000;

interface Kind {
  name: string;
  fault: Record<string, unknown>;
  /** The request took effect at Clover although its answer was lost. */
  effect: boolean;
  /** What the caller of a money route gets (API.md §1.3). */
  status: number[];
  slow?: boolean;
}

const KINDS: Kind[] = [
  { name: '500', fault: { status: 500 }, effect: false, status: [502] },
  { name: '502', fault: { status: 502, body: '<html>Bad Gateway</html>' }, effect: false, status: [502] },
  { name: '503', fault: { status: 503, body: { message: 'Service Unavailable' } }, effect: false, status: [502, 503] },
  {
    name: '429 exhausted',
    fault: {
      status: 429,
      times: 50,
      body: { message: 'Too many requests', error: { code: 'rate_limit', message: 'Too many requests' } },
    },
    effect: false,
    status: [429],
  },
  { name: 'slow', fault: { delay_ms: CLOVER_TIMEOUT_MS + 1500 }, effect: true, status: [504], slow: true },
  { name: 'drop before', fault: { drop: true }, effect: false, status: [502, 503] },
  { name: 'drop after effect', fault: { drop: true, after_effect: true }, effect: true, status: [502] },
];

async function underFault(fault: Record<string, unknown>, send: () => Promise<Res>): Promise<Res> {
  await setFault(fault);
  try {
    return await send();
  } finally {
    await clearFaults();
  }
}

/** A money route's answer to a Clover failure: 429 rate_limit_error, or 502/503/504 api_error naming the charge. */
function expectFaultAnswer(r: Res, kind: Kind, what: string, chargeId?: string): void {
  expectErrorShape(r, what);
  expect(kind.status, `${what}: ${r.status} ${r.text}`).toContain(r.status);
  if (r.status === 429) {
    expect(r.body.error.type).toBe('rate_limit_error');
    expect(Number(r.headers['retry-after']), 'Retry-After').toBeGreaterThanOrEqual(1);
  } else {
    expect(r.body.error.type).toBe('api_error');
    expect(r.body.error.charge, `${what}: the pending charge`).toMatch(chargeId ? new RegExp(`^${chargeId}$`) : /^ch_/);
  }
}

/** Waits until a delayed (slow-faulted) request has been carried out at the emulator. */
const afterSlow = (kind: Kind) => (kind.slow ? sleep(1700) : Promise.resolve());

export function cloverFaults(): void {
  scenario('Clover faults', () => {
    let m: Merchant;
    const merchants: string[] = [];
    beforeAll(async () => {
      m = await onboard();
      merchants.push(m.merchant_id);
    });

    describe('POST /v1/charges', () => {
      it.each(KINDS.map((k, i) => [k.name, k, i] as const))('%s', async (_n, kind, i) => {
        const amount = nextAmount();
        const key = newKey();
        const body = { source: await token(m), amount, currency: 'usd' };
        const send = () => api('POST', '/v1/charges', { key: m.secret_key, idem: key, body });
        const r = await underFault({ path: '/v1/charges', method: 'POST', ...kind.fault }, send);
        expectFaultAnswer(r, kind, `charge under ${kind.name}`);
        expectCharges(1);
        // Every attempt is in the ledger, the pending one under the id the caller was given.
        const attempts = (await merchantItems(m.merchant_id, 'CHARGE#')).filter((c) => c.amount === amount);
        expect(attempts.length).toBe(1);
        // A 429 proves nothing either (docs/money.md): the attempt stays pending, named in the answer.
        expect(attempts[0]).toMatchObject({ id: r.body.error.charge, status: 'pending' });
        await afterSlow(kind);

        // Resolved by the reconciler (every other case) or by the caller's retry with the same key.
        if (r.status !== 429 && i % 2 === 0) {
          await reconcileAll();
          const resolved = (await merchantItems(m.merchant_id, 'CHARGE#')).find((c) => c.id === r.body.error.charge);
          expect(resolved?.status, 'after the reconciler').toBe('succeeded');
        }
        const retry = await send();
        expect(retry.status, retry.text).toBe(201);
        expect(retry.body.id).toBe(r.body.error.charge);
        const made = (await cloverCharges(m.merchant_id)).filter((c) => c.amount === amount);
        expect(made, 'charges at Clover for this request').toHaveLength(1);
        expect(retry.body.clover.charge_id).toBe(made[0]!.id);
        const replay = await send();
        expect(replay.status).toBe(201);
        expect(replay.headers['idempotent-replayed']).toBe('true');
      });

      it('429 from Clover’s own rate limiter, with retry-after, is answered 429 with Retry-After; the retry charges once', async () => {
        const amount = nextAmount();
        const key = newKey();
        const body = { source: await token(m), amount, currency: 'usd' };
        const send = () => api('POST', '/v1/charges', { key: m.secret_key, idem: key, body });
        // Hold the merchant's one concurrent slot at Clover with a slow request of its own token.
        const accessToken = await merchantAccessToken(m.merchant_id);
        await emulator('POST', '/_emulator/config', { rate_limits: { token_concurrent: 1 } });
        await setFault({ path: '/v1/charges', method: 'GET', delay_ms: CLOVER_TIMEOUT_MS + 2500 });
        const held = emulator('GET', '/v1/charges?limit=1', undefined, { Authorization: `Bearer ${accessToken}` });
        try {
          await sleep(200);
          const r = await send();
          expectErrorShape(r, 'charge while Clover’s concurrency limit is full');
          expect(r.status, r.text).toBe(429);
          expect(r.body.error.type).toBe('rate_limit_error');
          expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
          const sent = (await cloverRequests('/v1/charges')).filter(
            (x) => x.method === 'POST' && x.merchant_id === m.merchant_id && x.body?.amount === amount,
          );
          // A money call is not retried inside the request: the shared budget spaces calls instead.
          expect(sent.length, 'Clover was asked once').toBe(1);
        } finally {
          await held;
          await clearFaults();
          await emulator('POST', '/_emulator/config', { rate_limits: true });
        }
        expectCharges(1);
        const retry = await send();
        expect(retry.status, retry.text).toBe(201);
        expect((await cloverCharges(m.merchant_id)).filter((c) => c.amount === amount)).toHaveLength(1);
      });
    });

    describe('POST /v1/charges/{id}/capture', () => {
      it.each(KINDS.map((k) => [k.name, k] as const))('%s', async (_n, kind) => {
        const amount = nextAmount();
        const auth = await api('POST', '/v1/charges', {
          key: m.secret_key,
          idem: newKey(),
          body: { source: await token(m), amount, currency: 'usd', capture: false },
        });
        expect(auth.status, auth.text).toBe(201);
        expectCharges(1);
        const key = newKey();
        const path = `/v1/charges/${auth.body.id}/capture`;
        const send = () => api('POST', path, { key: m.secret_key, idem: key, body: {} });
        const cloverPath = `/v1/charges/${auth.body.clover.charge_id}/capture`;
        const r = await underFault({ path: cloverPath, method: 'POST', ...kind.fault }, send);
        expectFaultAnswer(r, kind, `capture under ${kind.name}`, auth.body.id);
        await afterSlow(kind);
        await reconcileAll();
        const atClover = async () =>
          (await cloverCharges(m.merchant_id)).find((c) => c.id === auth.body.clover.charge_id)!;
        // The reconciler alone brings the ledger in line with what Clover did (captured or not).
        const reconciled = (await api('GET', `/v1/charges/${auth.body.id}`, { key: m.secret_key })).body;
        const clover = await atClover();
        expect(reconciled.captured, `ledger captured after the reconciler (Clover: ${clover.captured})`).toBe(
          clover.captured === true,
        );
        if (kind.effect) expect(reconciled).toMatchObject({ captured: true, amount_captured: amount });
        const retry = await send();
        expect(retry.status, retry.text).toBe(200);
        expect(retry.body).toMatchObject({ id: auth.body.id, captured: true, amount_captured: amount });
        expect(await atClover()).toMatchObject({ captured: true, amount_captured: amount });
        const captures = (await cloverRequests(cloverPath)).filter((x) => x.method === 'POST');
        note(`capture under ${kind.name}: ${captures.length} capture call(s) reached Clover, one capture made`);
      });
    });

    describe('POST /v1/refunds', () => {
      it.each(KINDS.map((k, i) => [k.name, k, i] as const))('%s', async (_n, kind, i) => {
        const amount = nextAmount();
        const ch = await api('POST', '/v1/charges', {
          key: m.secret_key,
          idem: newKey(),
          body: { source: await token(m), amount, currency: 'usd' },
        });
        expect(ch.status, ch.text).toBe(201);
        expectCharges(1);
        const key = newKey();
        const half = Math.floor(amount / 2);
        const send = () =>
          api('POST', '/v1/refunds', { key: m.secret_key, idem: key, body: { charge: ch.body.id, amount: half } });
        const r = await underFault({ path: '/v1/refunds', method: 'POST', ...kind.fault }, send);
        expectFaultAnswer(r, kind, `refund under ${kind.name}`, ch.body.id);
        const refunds = (await merchantItems(m.merchant_id, 'REFUND#')).filter((x) => x.charge === ch.body.id);
        expect(refunds.length, 'the refund attempt is in the ledger').toBe(1);
        await afterSlow(kind);
        if (i % 2 === 0) await reconcileAll();
        // A partial refund is re-sent only once a lookup at Clover settles on "nothing made"
        // (docs/money.md): until then the retry is told 409 outcome_pending with Retry-After.
        const retry = await untilSettled(send);
        expect(retry.status, retry.text).toBe(201);
        expect(retry.body).toMatchObject({ charge: ch.body.id, amount: half, status: 'succeeded' });
        const atClover = (await cloverCharges(m.merchant_id)).find((c) => c.id === ch.body.clover.charge_id)!;
        expect(atClover.amount_refunded, 'refunded once at Clover').toBe(half);
        const after = (await api('GET', `/v1/charges/${ch.body.id}`, { key: m.secret_key })).body;
        expect(after.amount_refunded).toBe(half);
      });
    });

    describe('POST /v1/tokens', () => {
      it.each(KINDS.map((k) => [k.name, k] as const))('%s', async (_n, kind) => {
        const send = () =>
          api('POST', '/v1/tokens', {
            key: m.publishable_key,
            body: { card: { number: '4242424242424242', exp_month: '12', exp_year: expYear(), cvv: '739' } },
          });
        const before = (await cloverCharges(m.merchant_id)).length;
        const r = await underFault({ path: '/v1/tokens', method: 'POST', ...kind.fault }, send);
        expectErrorShape(r, `token under ${kind.name}`);
        const expected = kind.name.startsWith('429') ? [429] : kind.slow ? [504] : [502, 503];
        expect(expected, `${r.status} ${r.text}`).toContain(r.status);
        expect(r.body.error.type).toBe(r.status === 429 ? 'rate_limit_error' : 'api_error');
        await afterSlow(kind);
        const retry = await send();
        expect(retry.status, retry.text).toBe(201);
        expect((await cloverCharges(m.merchant_id)).length, 'no charge').toBe(before);
      });
    });

    describe('GET /pakms/apikey during an install', () => {
      it.each(KINDS.map((k) => [k.name, k] as const))('%s', async (_n, kind) => {
        const id = await newCloverMerchant();
        merchants.push(id);
        const fault: Record<string, unknown> = { path: '/pakms/apikey', method: 'GET', ...kind.fault };
        if (kind.slow) fault.delay_ms = ONBOARDING_TIMEOUT_MS + 700;
        const r = await underFault(fault, async () => api('GET', await installCallbackPath(id)));
        expectErrorShape(r, `install under a PAKMS ${kind.name}`);
        expect([502, 503, 504], `${r.status} ${r.text}`).toContain(r.status);
        expect(r.body.error.type).toBe('api_error');
        const record = (await merchantItems(id, 'MERCHANT'))[0];
        expect(record?.pakms_key, 'no PAKMS key stored').toBeUndefined();
        if (kind.slow) await sleep(900);
        const again = await api('GET', await installCallbackPath(id));
        expect(again.status, again.text).toBe(200);
        expect(again.body).toMatchObject({ merchant_id: id, status: 'active' });
        const calls = async () =>
          (await cloverRequests('/pakms/apikey')).filter((x) => x.merchant_id === id && x.method === 'GET').length;
        const afterInstall = await calls();
        const reinstall = await api('GET', await installCallbackPath(id));
        expect(reinstall.status).toBe(200);
        expect(await calls(), 'a reinstall never calls PAKMS').toBe(afterInstall);
        const key = (await merchantItems(id, 'MERCHANT'))[0]?.pakms_key;
        expect(key).toMatch(/^[0-9a-f]{32}$/);
      });
    });

    describe('POST /oauth/v2/token during an install', () => {
      it.each(KINDS.map((k) => [k.name, k] as const))('%s', async (_n, kind) => {
        const id = await newCloverMerchant();
        merchants.push(id);
        const fault: Record<string, unknown> = { path: '/oauth/v2/token', method: 'POST', ...kind.fault };
        if (kind.slow) fault.delay_ms = ONBOARDING_TIMEOUT_MS + 700;
        const callback = await installCallbackPath(id);
        const r = await underFault(fault, () => api('GET', callback));
        expectErrorShape(r, `install under a token-exchange ${kind.name}`);
        expect([502, 503, 504], `${r.status} ${r.text}`).toContain(r.status);
        expect(await merchantItems(id, ''), 'nothing stored').toEqual([]);
        if (kind.slow) await sleep(900);
        // The same code again: it works if Clover never used it, else it is refused as used (400).
        const same = await api('GET', callback);
        if (kind.effect) {
          expect(same.status, same.text).toBe(400);
          expect(same.body.error.code).toBe('oauth_code_rejected');
          const fresh = await api('GET', await installCallbackPath(id));
          expect(fresh.status, fresh.text).toBe(200);
        } else {
          expect(same.status, same.text).toBe(200);
        }
        expect((await merchantItems(id, 'MERCHANT'))[0]).toMatchObject({ status: 'active' });
      });
    });

    describe('POST /oauth/v2/refresh before a charge', () => {
      let r: Merchant;
      beforeAll(async () => {
        // Access tokens that live one second: every charge below needs a refresh first.
        await emulator('POST', '/_emulator/config', { access_token_lifetime_seconds: 1 });
        r = await onboard();
        merchants.push(r.merchant_id);
      });

      it.each(KINDS.map((k) => [k.name, k] as const))('%s', async (_n, kind) => {
        await sleep(1100); // the access token has expired
        const amount = nextAmount();
        const key = newKey();
        const body = { source: await token(r), amount, currency: 'usd' };
        const send = () => api('POST', '/v1/charges', { key: r.secret_key, idem: key, body });
        const fault: Record<string, unknown> = { path: '/oauth/v2/refresh', method: 'POST', ...kind.fault };
        if (kind.slow) fault.delay_ms = ONBOARDING_TIMEOUT_MS + 700;
        const first = await underFault(fault, send);
        expectErrorShape(first, `charge under a refresh ${kind.name}`);
        expect([502, 503, 504], `${first.status} ${first.text}`).toContain(first.status);
        expect(first.body.error.type).toBe('api_error');
        expectCharges(1);
        const attempt = (await merchantItems(r.merchant_id, 'CHARGE#')).filter((c) => c.amount === amount);
        expect(attempt, 'the attempt is in the ledger').toHaveLength(1);
        expect(attempt[0]!.status).toBe('pending');
        // API.md §1.3: an error after the charge was recorded names it.
        expect(first.body.error.charge, 'the pending charge is named').toBe(attempt[0]!.id);
        if (kind.slow) await sleep(900);
        let retry = await send();
        if (kind.effect) {
          // Clover rotated the single-use refresh token but its answer was lost: the stored one is dead.
          if (retry.status === 503 && retry.body.error?.code === 'merchant_needs_reauth') {
            finding(
              "A lost answer to Clover's OAuth refresh (slow answer, dropped after effect) leaves the merchant `needs_reauth` for good: Clover rotated the single-use refresh token, the one we hold is dead, and every call answers 503 merchant_needs_reauth until the merchant reinstalls.",
              describeRes('POST', '/v1/charges', retry),
            );
            const reinstall = await api('GET', await installCallbackPath(r.merchant_id));
            expect(reinstall.status, reinstall.text).toBe(200);
            await reconcileAll();
            retry = await send();
            if (retry.status === 503) {
              finding(
                'After a reinstall, a warm container keeps answering 503 merchant_needs_reauth from its cached merchant record (CACHE_TTL_MS, 60 s), although the merchant is active again and the reconciler already made the pending charge.',
                describeRes('POST', '/v1/charges', retry),
              );
              harness().platform.lambda.recycle('charges'); // a cold container
              retry = await send();
            }
          }
        }
        expect(retry.status, retry.text).toBe(201);
        expect((await cloverCharges(r.merchant_id)).filter((c) => c.amount === amount)).toHaveLength(1);
      });

      it('restores the token lifetime', async () => {
        await emulator('POST', '/_emulator/config', { access_token_lifetime_seconds: 3600 });
      });
    });

    accountingTest(() => merchants);
  });
}
