/**
 * Issue 3: the install callback, PAKMS at most once per merchant, reinstall, bad input.
 */
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { authorizeRedirect } from '../../../local/demo-merchant';
import {
  api,
  cloverRequests,
  emulator,
  merchantItem,
  merchantSecretId,
  platform,
  secrets,
} from '../../helpers/platform';

const merchantRecord = merchantItem;

async function callbackUrl(merchantId: string): Promise<string> {
  const p = platform();
  return authorizeRedirect(
    { gatewayUrl: p.gatewayUrl, emulatorUrl: p.emulatorUrl, clientId: p.app.client_id },
    merchantId,
  );
}

const pakmsCalls = async (merchantId: string) =>
  (await cloverRequests('/pakms/apikey')).filter((r) => r.merchant_id === merchantId).length;

describe('install callback', () => {
  beforeAll(async () => {
    // The install storm below would trip Clover's per-app rate limit; that is not what is tested here.
    await emulator('POST', '/_emulator/config', { rate_limits: false });
  });

  it('20 concurrent callbacks for one new merchant call PAKMS exactly once and leave it active', async () => {
    const { body } = await emulator<{ merchant_id: string }>('POST', '/_emulator/merchants');
    const m = body.merchant_id;
    // Twenty installs in flight at once, each with its own authorization code.
    const urls = await Promise.all(Array.from({ length: 20 }, () => callbackUrl(m)));
    const answers = await Promise.all(
      urls.map((u) => fetch(u).then(async (r) => ({ status: r.status, body: await r.json() }))),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    for (const a of answers) expect(a.body).toEqual({ merchant_id: m, status: 'active' });
    expect(await pakmsCalls(m)).toBe(1);
    const rec = await merchantRecord(m);
    expect(rec?.status).toBe('active');
    expect(rec?.pakms_key).toMatch(/^[0-9a-f]{32}$/);
    expect(rec?.pakms_lease_owner).toBeUndefined();

    // A reinstall later: new tokens, same key, no PAKMS call.
    const again = await fetch(await callbackUrl(m));
    expect(again.status).toBe(200);
    expect(await pakmsCalls(m)).toBe(1);
    expect((await merchantRecord(m))?.pakms_key).toBe(rec?.pakms_key);
  });

  it('a PAKMS failure leaves the merchant retryable, and the next callback provisions it', async () => {
    const { body } = await emulator<{ merchant_id: string }>('POST', '/_emulator/merchants');
    const m = body.merchant_id;
    await emulator('POST', '/_emulator/faults', { path: '/pakms/apikey', status: 503, times: 1 });
    try {
      const first = await fetch(await callbackUrl(m));
      expect(first.status).toBe(502);
      expect((await first.json()).error.code).toBe('pakms_failed');
      expect((await merchantRecord(m))?.status).toBe('provisioning');
    } finally {
      await emulator('DELETE', '/_emulator/faults');
    }
    const second = await fetch(await callbackUrl(m));
    expect(second.status).toBe(200);
    expect((await merchantRecord(m))?.status).toBe('active');
    expect(await pakmsCalls(m)).toBe(2); // the failed call and the one that succeeded
  });

  it('stores the token pair in the merchant secret, not in DynamoDB', async () => {
    const { body } = await emulator<{ merchant_id: string }>('POST', '/_emulator/merchants');
    const r = await fetch(await callbackUrl(body.merchant_id));
    expect(r.status).toBe(200);
    const d = await secrets().send(new DescribeSecretCommand({ SecretId: merchantSecretId(body.merchant_id) }));
    expect(d.Name).toBe(merchantSecretId(body.merchant_id));
    const rec = await merchantRecord(body.merchant_id);
    expect(JSON.stringify(rec)).not.toMatch(/access_token|refresh_token/);
  });

  it.each([
    ['no parameters', '', 'parameter_missing', 'merchant_id'],
    ['a malformed merchant id', 'merchant_id=abc&client_id=X&code=c', 'invalid_merchant_id', 'merchant_id'],
    ['no client_id', 'merchant_id=ABCDEFGHJKMNP&code=c', 'parameter_missing', 'client_id'],
    [
      'a foreign client_id',
      'merchant_id=ABCDEFGHJKMNP&client_id=FOREIGNAPP123&code=c',
      'invalid_client_id',
      'client_id',
    ],
  ])('%s → 400 and nothing stored', async (_name, query, code, param) => {
    const r = await api('GET', `/v1/oauth/callback?${query}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code, param });
    expect(await merchantRecord('ABCDEFGHJKMNP')).toBeUndefined();
  });

  it('a code Clover rejects → 400 oauth_code_rejected, nothing stored', async () => {
    const { body } = await emulator<{ merchant_id: string }>('POST', '/_emulator/merchants');
    const m = body.merchant_id;
    const r = await api(
      'GET',
      `/v1/oauth/callback?merchant_id=${m}&client_id=${platform().app.client_id}&code=not-a-real-code`,
    );
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('oauth_code_rejected');
    expect(await merchantRecord(m)).toBeUndefined();
    await expect(secrets().send(new DescribeSecretCommand({ SecretId: merchantSecretId(m) }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });

  it('a used code is rejected the second time', async () => {
    const { body } = await emulator<{ merchant_id: string }>('POST', '/_emulator/merchants');
    const url = await callbackUrl(body.merchant_id);
    expect((await fetch(url)).status).toBe(200);
    const again = await fetch(url);
    expect(again.status).toBe(400);
    expect((await again.json()).error.code).toBe('oauth_code_rejected');
  });
});
