/**
 * Scenario 5: access (API.md §1.1). Every keyed route with no key, malformed keys, an unknown key,
 * a revoked key (revoked in process and the authorizer cache flushed, as `npm run keys -- revoke`
 * does), a publishable key on secret routes, and another merchant's key on this merchant's
 * resources — 401, 403 and 404 as documented, and nothing done at Clover. Webhooks with a wrong
 * X-Clover-Auth: 401. Secret comparisons are constant-time: checked in the code, not timed.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../../shared/store/api-keys';
import { accountingTest, expectCharges, expectErrorShape, scenario } from '../common';
import { api, cloverRequests, expYear, harness, type Merchant, newKey, onboard, type Res, token } from '../harness';

export function access(): void {
  scenario('Access', () => {
    let a: Merchant;
    let b: Merchant;
    let aCharge: Record<string, any>;
    let aAuth: Record<string, any>;
    let aSession: { id: string; client_secret: string };
    let revoked: string;
    let revokedPk: string;

    beforeAll(async () => {
      [a, b] = await Promise.all([onboard(), onboard()]);
      aCharge = (
        await api('POST', '/v1/charges', {
          key: a.secret_key,
          idem: newKey(),
          body: { source: await token(a), amount: 1000, currency: 'usd' },
        })
      ).body;
      aAuth = (
        await api('POST', '/v1/charges', {
          key: a.secret_key,
          idem: newKey(),
          body: { source: await token(a), amount: 1000, currency: 'usd', capture: false },
        })
      ).body;
      expect([aCharge.status, aAuth.status]).toEqual(['succeeded', 'succeeded']);
      expectCharges(2);
      aSession = (
        await api('POST', '/v1/checkout-sessions', { key: a.secret_key, body: { amount: 500, currency: 'usd' } })
      ).body as typeof aSession;
      // Keys that worked (so the authorizer cached them), then revoked.
      revoked = (await createApiKey(a.merchant_id, 'secret', 'test')).key;
      revokedPk = (await createApiKey(a.merchant_id, 'publishable', 'test')).key;
      expect((await api('GET', `/v1/charges/${aCharge.id}`, { key: revoked })).status).toBe(200);
      expect((await api('GET', '/v1/checkout-config', { key: revokedPk })).status).toBe(200);
      expect(await revokeApiKey({ key: revoked })).not.toBeNull();
      expect(await revokeApiKey({ key: revokedPk })).not.toBeNull();
      const flush = await fetch(`${harness().platform.gatewayUrl}/restapis/local/stages/local/cache/authorizers`, {
        method: 'DELETE',
      });
      expect(flush.status).toBe(202);
    });

    /** Every route that takes a secret key, with a body that would otherwise be fine. */
    const secretRoutes = (): [string, string, unknown?][] => [
      ['POST', '/v1/charges', { source: 'clv_abc', amount: 100, currency: 'usd' }],
      ['GET', '/v1/charges'],
      ['GET', `/v1/charges/${aCharge.id}`],
      ['POST', `/v1/charges/${aAuth.id}/capture`, {}],
      ['POST', '/v1/refunds', { charge: aCharge.id }],
      ['POST', '/v1/checkout-sessions', { amount: 100, currency: 'usd' }],
      ['GET', `/v1/checkout-sessions/${aSession.id}`],
    ];
    const publishableRoutes = (): [string, string, unknown?][] => [
      ['GET', '/v1/checkout-config'],
      [
        'POST',
        '/v1/tokens',
        { card: { number: '4242424242424242', exp_month: '12', exp_year: expYear(), cvv: '739' } },
      ],
      ['POST', `/v1/checkout-sessions/${aSession.id}/pay`, { client_secret: aSession.client_secret, source: 'clv_a' }],
    ];
    const send = (method: string, path: string, body: unknown, headers: Record<string, string | string[]>) =>
      api(method, path, { headers, idem: newKey(), ...(body !== undefined ? { body } : {}) });

    const unauthenticated: [string, () => Record<string, string | string[]>][] = [
      ['no key', () => ({})],
      ['Bearer without a key', () => ({ Authorization: 'Bearer' })],
      ['a malformed key', () => ({ Authorization: 'Bearer sk_test_short' })],
      ['another scheme', () => ({ Authorization: `Basic ${Buffer.from(`${a.secret_key}:`).toString('base64')}` })],
      ['the key without Bearer', () => ({ Authorization: a.secret_key })],
      ['an unknown secret key', () => ({ Authorization: `Bearer sk_test_${'x'.repeat(32)}` })],
      ['an unknown publishable key', () => ({ Authorization: `Bearer pk_test_${'x'.repeat(32)}` })],
      [
        'a live key on the sandbox deployment',
        () => ({ Authorization: `Bearer ${a.secret_key.replace('_test_', '_live_')}` }),
      ],
      ['a revoked secret key', () => ({ Authorization: `Bearer ${revoked}` })],
      ['a revoked publishable key', () => ({ Authorization: `Bearer ${revokedPk}` })],
    ];
    it.each(unauthenticated)('%s: 401 authentication_error on every keyed route', async (_what, headers) => {
      const before = (await cloverRequests('/')).filter((x) => x.merchant_id === a.merchant_id).length;
      for (const [method, path, body] of [...secretRoutes(), ...publishableRoutes()]) {
        const r = await send(method, path, body, headers());
        expect(r.status, `${method} ${path}: ${r.text}`).toBe(401);
        expectErrorShape(r, `${method} ${path}`);
        expect(r.body.error.type).toBe('authentication_error');
      }
      expect((await cloverRequests('/')).filter((x) => x.merchant_id === a.merchant_id).length).toBe(before);
    });

    it('a publishable key on every secret route: 403 permission_error, nothing done', async () => {
      const before = (await cloverRequests('/')).filter((x) => x.merchant_id === a.merchant_id).length;
      for (const [method, path, body] of secretRoutes()) {
        const r = await send(method, path, body, { Authorization: `Bearer ${a.publishable_key}` });
        expect(r.status, `${method} ${path}: ${r.text}`).toBe(403);
        expectErrorShape(r, `${method} ${path}`);
        expect(r.body.error.type).toBe('permission_error');
      }
      expect((await cloverRequests('/')).filter((x) => x.merchant_id === a.merchant_id).length).toBe(before);
      const charge = (await api('GET', `/v1/charges/${aAuth.id}`, { key: a.secret_key })).body;
      expect(charge).toMatchObject({ captured: false, amount_refunded: 0 });
    });

    it('another merchant’s key: 404 resource_missing for every resource, exactly as for one that does not exist', async () => {
      const missing = (id: string) => `${id.slice(0, 3)}${'0'.repeat(23)}`;
      const cases: [string, string, string, unknown?][] = [
        [b.secret_key, 'GET', `/v1/charges/${aCharge.id}`],
        [b.secret_key, 'POST', `/v1/charges/${aAuth.id}/capture`, {}],
        [b.secret_key, 'POST', '/v1/refunds', { charge: aCharge.id }],
        [b.secret_key, 'GET', `/v1/checkout-sessions/${aSession.id}`],
        [
          b.publishable_key,
          'POST',
          `/v1/checkout-sessions/${aSession.id}/pay`,
          { client_secret: aSession.client_secret, source: 'clv_x' },
        ],
      ];
      const strip = (r: Res) => {
        const { request_id: _r, ...error } = r.body.error ?? {};
        return { status: r.status, error };
      };
      const before = (await cloverRequests('/')).filter(
        (x) => x.merchant_id === b.merchant_id || x.merchant_id === a.merchant_id,
      ).length;
      for (const [key, method, path, body] of cases) {
        const theirs = await send(method, path, body, { Authorization: `Bearer ${key}` });
        expect(theirs.status, `${method} ${path}: ${theirs.text}`).toBe(404);
        expectErrorShape(theirs, `${method} ${path}`);
        expect(theirs.body.error.code).toBe('resource_missing');
        const id = /(ch|cs)_[0-9a-z]{23}/.exec(path)?.[0] ?? aCharge.id;
        const nobodys = await send(
          method,
          path.replace(id, missing(id)),
          body && typeof body === 'object' && 'charge' in body ? { charge: missing(aCharge.id) } : body,
          { Authorization: `Bearer ${key}` },
        );
        expect(strip(theirs), `${method} ${path}`).toEqual(strip(nobodys));
      }
      const list = await api('GET', '/v1/charges?limit=100', { key: b.secret_key });
      expect(list.status).toBe(200);
      expect(list.body.data.map((c: { id: string }) => c.id)).not.toContain(aCharge.id);
      const after = (await cloverRequests('/')).filter(
        (x) => x.merchant_id === b.merchant_id || x.merchant_id === a.merchant_id,
      ).length;
      expect(after, 'nothing reached Clover').toBe(before);
      const charge = (await api('GET', `/v1/charges/${aAuth.id}`, { key: a.secret_key })).body;
      expect(charge).toMatchObject({ captured: false, amount_refunded: 0 });
    });

    it('webhooks: a wrong, missing or near-miss X-Clover-Auth is 401; the right one is 200', async () => {
      const code = harness().platform.app.webhook_auth_code;
      const batch = {
        appId: 'APP',
        merchants: { [a.merchant_id]: [{ objectId: 'O:X', type: 'CREATE', ts: Date.now() }] },
      };
      const wrong: Record<string, string | string[]>[] = [
        {},
        { 'X-Clover-Auth': '' },
        { 'X-Clover-Auth': 'wrong' },
        { 'X-Clover-Auth': code.slice(0, -1) },
        { 'X-Clover-Auth': `${code}x` },
        { 'X-Clover-Auth': code.toUpperCase() === code ? code.toLowerCase() : code.toUpperCase() },
        { 'X-Clover-Auth': [code, 'wrong'] },
        { Authorization: `Bearer ${code}` },
      ];
      for (const headers of wrong) {
        const r = await api('POST', '/v1/webhooks/clover', { headers, body: batch });
        expect(r.status, `${JSON.stringify(headers)}: ${r.text}`).toBe(401);
        expectErrorShape(r, 'webhook with a wrong auth code');
        expect(r.body.error.type).toBe('authentication_error');
      }
      const ok = await api('POST', '/v1/webhooks/clover', { headers: { 'X-Clover-Auth': code }, body: batch });
      expect(ok.status, ok.text).toBe(200);
      // An uninstall with a wrong code changes nothing.
      const uninstall = {
        appId: 'APP',
        merchants: { [a.merchant_id]: [{ objectId: 'A:APP', type: 'DELETE', ts: Date.now() }] },
      };
      const refused = await api('POST', '/v1/webhooks/clover', {
        headers: { 'X-Clover-Auth': 'wrong' },
        body: uninstall,
      });
      expect(refused.status).toBe(401);
      expect((await api('GET', '/v1/checkout-config', { key: a.publishable_key })).status).toBe(200);
    });

    it('secret comparisons are constant-time (crypto.timingSafeEqual), and every secret compared goes through them', () => {
      // Wherever secretsEqual lives, the webhook check (shared/webhooks.ts, which the handler calls)
      // and checkout sessions import it from there.
      const importOf = (file: string) => {
        const m = /import \{[^}]*\bsecretsEqual\b[^}]*\} from '([^']+)'/.exec(readFileSync(file, 'utf8'));
        expect(m, `${file} imports secretsEqual`).not.toBeNull();
        return resolve(dirname(file), `${m![1]}.ts`);
      };
      const webhookHandler = 'functions/webhooks/index.ts';
      const webhookAuth = 'shared/webhooks.ts';
      const sessionsFile = 'shared/payments/sessions.ts';
      const impl = importOf(webhookAuth);
      expect(importOf(sessionsFile)).toBe(impl);
      const source = readFileSync(impl, 'utf8');
      const fn = /export function secretsEqual[\s\S]*?\n}/.exec(source)?.[0] ?? '';
      expect(fn, `secretsEqual in ${impl}`).not.toBe('');
      expect(source).toMatch(/import \{[^}]*timingSafeEqual[^}]*\} from 'node:crypto'/);
      expect(fn).toMatch(/timingSafeEqual\(/);
      // Both sides hashed first: equal lengths, so that timingSafeEqual never throws or ends early on length.
      expect(fn).toMatch(/createHash\('sha256'\)\.update\(a\)/);
      expect(fn).toMatch(/createHash\('sha256'\)\.update\(b\)/);
      expect(fn).not.toMatch(/\ba\s*[!=]==?\s*b\b/);
      const auth = readFileSync(webhookAuth, 'utf8');
      expect(auth).toMatch(/secretsEqual\(given, configuredCode\)/);
      expect(auth).not.toMatch(/configuredCode\s*[!=]==\s*given|given\s*[!=]==\s*configuredCode/);
      const handler = readFileSync(webhookHandler, 'utf8');
      expect(handler).toMatch(/webhookAuth\(\(await appConfig\(\)\)\.webhook_auth_code, given\)/);
      expect(handler).not.toMatch(/webhook_auth_code\s*[!=]==|[!=]==\s*\S*webhook_auth_code/);
      const sessions = readFileSync(sessionsFile, 'utf8');
      expect(sessions).toMatch(/secretsEqual\(input\.client_secret, session\.client_secret\)/);
      expect(sessions).not.toMatch(/client_secret\s*[!=]==/);
      // API keys are never compared: the authorizer looks a key up by its SHA-256.
      expect(readFileSync('functions/authorizer/index.ts', 'utf8')).toMatch(/findApiKey\(key\)/);
      expect(readFileSync('shared/store/api-keys.ts', 'utf8')).toMatch(/pk\.apiKey\(sha256Hex\(key\)\)/);
    });

    accountingTest(() => [a.merchant_id, b.merchant_id]);
  });
}
