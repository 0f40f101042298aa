/**
 * Scenario 2: our own dependencies failing. DynamoDB Local is stopped while Clover is making a
 * charge (so that the outcome cannot be written), requests arrive while it is down, and it comes
 * back on the same port and data; the Secrets Manager endpoint answers 500 and
 * ThrottlingException to a cold container. Documented: a clear 503 (API.md §1.2: api_error,
 * "Clover unreachable or timed out (503/504)" — and 500 is "our fault"); never a charge at Clover
 * without a ledger record; full recovery once they are back: a new charge succeeds and retries
 * with the same key work, charging once.
 */
import { beforeAll, expect, it } from 'vitest';
import { createApiKey } from '../../../shared/store/api-keys';
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
  clearFaults,
  cloverCharges,
  cloverRequests,
  harness,
  installCallbackPath,
  type Merchant,
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

/** What an outage of our own store or secrets must look like to a caller. */
function judgeOutage(r: Res, what: string, method: string, path: string): void {
  expect(r.status, `${what}: ${r.text}`).toBeGreaterThanOrEqual(500);
  if (r.body?.error) {
    expectErrorShape(r, what);
    expect(r.body.error.type).toBe('api_error');
  }
  if (r.status !== 503 || !r.body?.error) {
    finding(
      `${what} is answered ${r.status === 503 ? 'without the error shape' : `${r.status}, not a clear 503`}:`,
      describeRes(method, path, r),
    );
  }
}

export function dependencies(): void {
  scenario('Our dependencies failing', () => {
    let m: Merchant;
    let unusedKey: string;
    let newMerchantId: string;
    const inFlight = { key: newKey(), amount: 0, body: {} as Record<string, unknown> };
    const whileDown = { key: newKey(), amount: 0, body: {} as Record<string, unknown> };
    const merchants: string[] = [];

    beforeAll(async () => {
      m = await onboard();
      merchants.push(m.merchant_id);
      unusedKey = (await createApiKey(m.merchant_id, 'secret', 'test')).key; // never used: not in the authorizer cache
      inFlight.amount = nextAmount();
      inFlight.body = { source: await token(m), amount: inFlight.amount, currency: 'usd' };
      whileDown.amount = nextAmount();
      whileDown.body = { source: await token(m), amount: whileDown.amount, currency: 'usd' };
    });

    it('DynamoDB stopped while Clover makes a charge: the caller gets a 5xx, the pending record survives', async () => {
      const { dynamodb } = harness().platform;
      // Clover takes 1.5 s to answer (the charge is made at once): time enough to stop DynamoDB
      // after the claim was written and before the outcome is.
      await setFault({ path: '/v1/charges', method: 'POST', delay_ms: 1500, after_effect: true });
      const send = () => api('POST', '/v1/charges', { key: m.secret_key, idem: inFlight.key, body: inFlight.body });
      const pending = send();
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        const seen = (await cloverRequests('/v1/charges')).some(
          (x) => x.merchant_id === m.merchant_id && x.body?.amount === inFlight.amount,
        );
        if (seen) break;
        await sleep(20);
      }
      await dynamodb.stop();
      const r = await pending;
      await clearFaults();
      expectCharges(1);
      judgeOutage(r, 'A charge whose outcome cannot be recorded because DynamoDB went down', 'POST', '/v1/charges');
      expect(
        (await cloverCharges(m.merchant_id)).filter((c) => c.amount === inFlight.amount),
        'Clover made it',
      ).toHaveLength(1);
    });

    it('while DynamoDB is down: a new charge, a read, a retry and an uncached key all fail cleanly, and Clover is not called', async () => {
      const before = (await cloverRequests('/')).filter((x) => x.merchant_id === m.merchant_id).length;
      const created = await api('POST', '/v1/charges', {
        key: m.secret_key,
        idem: whileDown.key,
        body: whileDown.body,
      });
      judgeOutage(created, 'A new charge while DynamoDB is down', 'POST', '/v1/charges');
      const retry = await api('POST', '/v1/charges', { key: m.secret_key, idem: inFlight.key, body: inFlight.body });
      judgeOutage(retry, 'A retry while DynamoDB is down', 'POST', '/v1/charges');
      const read = await api('GET', '/v1/charges?limit=1', { key: m.secret_key });
      judgeOutage(read, 'A read while DynamoDB is down', 'GET', '/v1/charges');
      const session = await api('POST', '/v1/checkout-sessions', {
        key: m.secret_key,
        body: { amount: 100, currency: 'usd' },
      });
      judgeOutage(session, 'A checkout session created while DynamoDB is down', 'POST', '/v1/checkout-sessions');
      const uncached = await api('GET', '/v1/charges?limit=1', { key: unusedKey });
      judgeOutage(
        uncached,
        'A key the authorizer has not cached, while DynamoDB is down (the authorizer cannot look it up)',
        'GET',
        '/v1/charges',
      );
      const after = (await cloverRequests('/')).filter((x) => x.merchant_id === m.merchant_id).length;
      expect(after, 'no Clover call without a ledger').toBe(before);
    });

    it('DynamoDB back on the same port and data: the charge made meanwhile is in the ledger, pending', async () => {
      const started = Date.now();
      await harness().platform.dynamodb.start();
      note(`DynamoDB Local restarted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const attempts = (await merchantItems(m.merchant_id, 'CHARGE#')).filter((c) => c.amount === inFlight.amount);
      expect(attempts).toHaveLength(1);
      expect(attempts[0]!.status, 'the claim transaction wrote it before Clover was called').toBe('pending');
      expect((await merchantItems(m.merchant_id, 'CHARGE#')).filter((c) => c.amount === whileDown.amount)).toHaveLength(
        0,
      );
    });

    it('Secrets Manager answering 500 or ThrottlingException to a cold container: 5xx, no Clover call; the same key works once it is back', async () => {
      const sm = harness().platform.secretsManager;
      for (const fault of [
        { status: 500, type: 'InternalServiceError' },
        { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' },
      ]) {
        const amount = nextAmount();
        const key = newKey();
        const body = { source: await token(m), amount, currency: 'usd' };
        const send = () => api('POST', '/v1/charges', { key: m.secret_key, idem: key, body });
        const before = sm.requestCount();
        harness().platform.lambda.recycle('charges'); // a cold container: the tokens must be read
        sm.setFault({ ...fault, times: 1000 });
        let r: Res;
        try {
          r = await send();
        } finally {
          sm.setFault(null);
        }
        expect(sm.requestCount() - before, 'the handler did ask Secrets Manager').toBeGreaterThan(0);
        judgeOutage(r, `A charge while Secrets Manager answers ${fault.type}`, 'POST', '/v1/charges');
        expect(
          (await cloverRequests('/v1/charges')).filter(
            (x) => x.merchant_id === m.merchant_id && x.body?.amount === amount,
          ),
          'Clover not called',
        ).toHaveLength(0);
        const recorded = (await merchantItems(m.merchant_id, 'CHARGE#')).filter((c) => c.amount === amount);
        if (r.body?.error && !r.body.error.charge && recorded.some((c) => c.status === 'pending')) {
          finding(
            'A charge refused because Secrets Manager failed is left `pending` in the ledger (its claim released as retryable) and will be made by the reconciler, while the caller was told 500 internal_error without its id:',
            describeRes('POST', '/v1/charges', r),
          );
        }
        const retry = await untilSettled(send);
        expect(retry.status, retry.text).toBe(201);
        expectCharges(1);
        expect((await cloverCharges(m.merchant_id)).filter((c) => c.amount === amount)).toHaveLength(1);
      }
    });

    it('Secrets Manager failing during an install: 5xx, nothing half-made; the next install works', async () => {
      const sm = harness().platform.secretsManager;
      newMerchantId = await newCloverMerchant();
      merchants.push(newMerchantId);
      const path = await installCallbackPath(newMerchantId);
      sm.setFault({ status: 500, type: 'InternalServiceError', times: 1000 });
      let r: Res;
      try {
        r = await api('GET', path);
      } finally {
        sm.setFault(null);
      }
      judgeOutage(r, 'An install while Secrets Manager answers InternalServiceError', 'GET', '/v1/oauth/callback');
      expect(await merchantItems(newMerchantId, ''), 'no merchant record').toEqual([]);
      const again = await api('GET', await installCallbackPath(newMerchantId));
      expect(again.status, again.text).toBe(200);
      expect(again.body).toMatchObject({ merchant_id: newMerchantId, status: 'active' });
    });

    it('after recovery: the in-flight charge resolves to the one Clover made, the refused one goes through, a new one succeeds', async () => {
      // The in-flight request's claim is held for its lease (30 s) since its end could not be
      // written: until then a retry is told 409 in progress, and the reconciler leaves it alone.
      const retry = await untilSettled(
        () => api('POST', '/v1/charges', { key: m.secret_key, idem: inFlight.key, body: inFlight.body }),
        40,
      );
      expect(retry.status, retry.text).toBe(201);
      const made = (await cloverCharges(m.merchant_id)).filter((c) => c.amount === inFlight.amount);
      expect(made, 'still one charge at Clover').toHaveLength(1);
      expect(retry.body.clover.charge_id).toBe(made[0]!.id);

      harness().platform.lambda.recycle('charges'); // a cold container: the merchant record is read again
      const refused = await api('POST', '/v1/charges', {
        key: m.secret_key,
        idem: whileDown.key,
        body: whileDown.body,
      });
      expect(refused.status, refused.text).toBe(201);
      expectCharges(1);
      const fresh = await api('POST', '/v1/charges', {
        key: m.secret_key,
        idem: newKey(),
        body: { source: await token(m), amount: nextAmount(), currency: 'usd' },
      });
      expect(fresh.status, fresh.text).toBe(201);
      expectCharges(1);
      const other: Merchant = { ...m, secret_key: unusedKey };
      expect((await api('GET', '/v1/charges?limit=1', { key: other.secret_key })).status).toBe(200);
      await reconcileAll();
    });

    accountingTest(() => merchants);
  });
}
