/**
 * Issue 3: app webhooks (X-Clover-Auth, verification, uninstall, duplicates, out-of-order) and
 * merchant API keys (hash-only storage, revoke, key kinds), through the gateway and the authorizer.
 */

import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { authorizeRedirect } from '../../../local/demo-merchant';
import {
  allItems,
  api,
  keysCli,
  merchantItem,
  merchantSecretId,
  newMerchant,
  platform,
  platformLog,
  secrets,
} from '../../helpers/platform';

const webhook = (body: unknown, auth: string | null = platform().app.webhook_auth_code) =>
  api('POST', '/v1/webhooks/clover', { body, headers: auth === null ? {} : { 'X-Clover-Auth': auth } });

const uninstall = (merchantId: string, ts: number) => ({
  appId: platform().app.client_id,
  merchants: { [merchantId]: [{ objectId: `A:${platform().app.client_id}`, type: 'DELETE', ts }] },
});

const status = async (m: string) => (await merchantItem(m))?.status;

describe('app webhooks', () => {
  it('answers the verification handshake and logs the code for ops', async () => {
    const code = `verify-${Date.now()}`;
    const r = await webhook({ verificationCode: code }, null);
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 200));
    expect(platformLog()).toContain(code);
  });

  it('refuses a wrong or missing X-Clover-Auth with 401', async () => {
    const m = await newMerchant();
    for (const auth of ['wrong', '', null]) {
      const r = await webhook(uninstall(m.merchant_id, Date.now()), auth);
      expect(r.status).toBe(401);
      expect(r.body.error.type).toBe('authentication_error');
    }
    expect(await status(m.merchant_id)).toBe('active');
  });

  it('uninstall disables the merchant: keys answer 401 on the next request; secret scheduled for deletion; records kept', async () => {
    const m = await newMerchant();
    // Warm the authorizer cache first: the uninstall must flush it.
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(200);
    expect((await api('GET', '/v1/charges', { key: m.secret_key })).status).toBe(200);
    const ts = Date.now();
    const r = await webhook(uninstall(m.merchant_id, ts));
    expect(r.status).toBe(200);
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(401);
    expect((await api('GET', '/v1/charges', { key: m.secret_key })).status).toBe(401);
    expect(await status(m.merchant_id)).toBe('disabled');
    const d = await secrets().send(new DescribeSecretCommand({ SecretId: merchantSecretId(m.merchant_id) }));
    expect(d.DeletedDate).toBeInstanceOf(Date);
    const items = (await allItems()).filter((i) => i.pk === `MERCHANT#${m.merchant_id}`);
    expect(items.length).toBeGreaterThan(1);

    // A duplicate delivery (the same event again) changes nothing.
    const dup = await webhook(uninstall(m.merchant_id, ts));
    expect(dup.status).toBe(200);
    expect(dup.body.uninstalled).toEqual([]);
  });

  it('a reinstall re-enables the merchant without a second PAKMS call, and a late old uninstall is ignored', async () => {
    const m = await newMerchant();
    const p = platform();
    const ts = Date.now();
    expect((await webhook(uninstall(m.merchant_id, ts))).status).toBe(200);
    expect(await status(m.merchant_id)).toBe('disabled');
    await new Promise((res) => setTimeout(res, 20));
    const url = await authorizeRedirect(
      { gatewayUrl: p.gatewayUrl, emulatorUrl: p.emulatorUrl, clientId: p.app.client_id },
      m.merchant_id,
    );
    const again = await fetch(url);
    expect(again.status).toBe(200);
    expect(await status(m.merchant_id)).toBe('active');
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(200);
    // The old uninstall, delivered again out of order after the reinstall, changes nothing.
    const late = await webhook(uninstall(m.merchant_id, ts));
    expect(late.body.uninstalled).toEqual([]);
    expect(await status(m.merchant_id)).toBe('active');
  });

  it('handles a batch of several merchants and unrelated events', async () => {
    const a = await newMerchant();
    const b = await newMerchant();
    const ts = Date.now();
    const r = await webhook({
      appId: platform().app.client_id,
      merchants: {
        [a.merchant_id]: [
          { objectId: 'O:ABC', type: 'CREATE', ts },
          { objectId: `A:${platform().app.client_id}`, type: 'DELETE', ts },
        ],
        [b.merchant_id]: [{ objectId: 'P:XYZ', type: 'UPDATE', ts }],
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.uninstalled).toEqual([a.merchant_id]);
    expect(await status(a.merchant_id)).toBe('disabled');
    expect(await status(b.merchant_id)).toBe('active');
  });

  it('a malformed body is a 400, never a 500', async () => {
    for (const raw of ['not json', '[]', '{"merchants": 5}', '{"merchants": {"X": [{"objectId": 1}]}}']) {
      const r = await api('POST', '/v1/webhooks/clover', {
        raw,
        headers: { 'X-Clover-Auth': platform().app.webhook_auth_code },
      });
      expect(r.status).toBe(400);
    }
  });
});

describe('merchant API keys', () => {
  it('are stored only as hashes', async () => {
    const m = await newMerchant();
    const dump = JSON.stringify(await allItems());
    expect(dump).not.toContain(m.secret_key);
    expect(dump).not.toContain(m.publishable_key);
    expect(dump).not.toContain(m.secret_key.slice(8));
  });

  it('list shows the keys by id and hint; revoke (by key id) makes the key answer 401 at once', async () => {
    const m = await newMerchant();
    expect((await api('GET', '/v1/charges', { key: m.secret_key })).status).toBe(200);
    const list = await keysCli(['list', '--merchant', m.merchant_id]);
    expect(list.code).toBe(0);
    const secretLine = list.stdout.split('\n').find((l) => l.includes('secret'))!;
    expect(secretLine).toContain('active');
    expect(list.stdout).not.toContain(m.secret_key);
    const keyId = secretLine.split(/\s+/)[0]!;
    const revoked = await keysCli(['revoke', keyId, '--merchant', m.merchant_id]);
    expect(revoked.code).toBe(0);
    expect((await api('GET', '/v1/charges', { key: m.secret_key })).status).toBe(401);
    // The other key of the merchant still works.
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(200);
    const after = await keysCli(['list', '--merchant', m.merchant_id]);
    expect(after.stdout).toMatch(/revoked/);
  });

  it('revoke by the key itself works too', async () => {
    const m = await newMerchant();
    expect((await keysCli(['revoke', m.publishable_key])).code).toBe(0);
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(401);
  });

  it('a publishable key on a secret route is 403; a malformed, unknown or live key is 401', async () => {
    const m = await newMerchant();
    const r = await api('GET', '/v1/charges', { key: m.publishable_key });
    expect(r.status).toBe(403);
    expect(r.body.error.type).toBe('permission_error');
    for (const key of [
      'nope',
      'sk_test_short',
      `sk_test_${'A'.repeat(32)}`,
      m.secret_key.replace('sk_test_', 'sk_live_'),
    ]) {
      const u = await api('GET', '/v1/charges', { key });
      expect(u.status).toBe(401);
      expect(u.body.error).toMatchObject({ type: 'authentication_error' });
      expect(u.headers.get('request-id')).toBeTruthy();
    }
    expect((await api('GET', '/v1/charges')).status).toBe(401);
  });

  it('the CLI explains bad input', async () => {
    const r = await keysCli(['create', '--merchant', 'nope', '--type', 'secret']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--merchant/);
    const t = await keysCli(['create', '--merchant', 'ABCDEFGHJKMNP', '--type', 'admin']);
    expect(t.stderr).toMatch(/--type must be secret or publishable/);
  });
});

describe('no secret in the logs', () => {
  it('no access token, refresh token, API key, client secret or PAKMS key appears in any log line', async () => {
    const m = await newMerchant();
    await api('GET', '/v1/checkout-config', { key: m.publishable_key });
    await new Promise((res) => setTimeout(res, 300));
    const log = platformLog();
    const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    const pair = JSON.parse(
      (await secrets().send(new GetSecretValueCommand({ SecretId: merchantSecretId(m.merchant_id) }))).SecretString!,
    );
    const rec = (await merchantItem(m.merchant_id))!;
    for (const secret of [
      pair.access_token,
      pair.refresh_token,
      m.secret_key,
      m.publishable_key,
      platform().app.client_secret,
      platform().app.webhook_auth_code,
      rec.pakms_key,
    ]) {
      expect(secret.length).toBeGreaterThan(8);
      expect(log).not.toContain(secret);
    }
  });
});
