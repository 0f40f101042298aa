/**
 * Issue 3: app webhooks (X-Clover-Auth, verification, uninstall, duplicates, out-of-order) and
 * merchant API keys (hash-only storage, revoke, key kinds), through the gateway and the authorizer.
 */

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProfile } from '../../../local/credentials';
import { authorizeRedirect } from '../../../local/demo-merchant';
import {
  allItems,
  api,
  ddb,
  emulator,
  invoke,
  keysCli,
  merchantItem,
  merchantSecretId,
  newMerchant,
  platform,
  platformLog,
  secrets,
  sleep,
} from '../../helpers/platform';

const webhook = (body: unknown, auth: string | null = platform().app.webhook_auth_code) =>
  api('POST', '/v1/webhooks/clover', { body, headers: auth === null ? {} : { 'X-Clover-Auth': auth } });

const uninstall = (merchantId: string, ts: number) => ({
  appId: platform().app.client_id,
  merchants: { [merchantId]: [{ objectId: `A:${platform().app.client_id}`, type: 'DELETE', ts }] },
});

const status = async (m: string) => (await merchantItem(m))?.status;

describe('app webhooks', () => {
  it('took Clover’s set-up handshake while no auth code was configured, and logged its code in one line', async () => {
    // The platform's first start registered the webhook URL with the emulator as ops do in Clover's
    // dashboard, before the auth code was in the app secret (local/platform.ts).
    const deliveries = (
      await emulator<{ kind: string; status: number; authenticated: boolean; body: { verificationCode?: string } }[]>(
        'GET',
        `/_emulator/app-webhooks?client_id=${platform().app.client_id}`,
      )
    ).body;
    const verification = deliveries.find((d) => d.kind === 'verification')!;
    expect(verification).toMatchObject({ status: 200, authenticated: false });
    const code = verification.body.verificationCode!;
    expect(
      platformLog()
        .split('\n')
        .filter((l) => l.includes(code)),
    ).toHaveLength(1);
  });

  it('with an auth code configured, an unauthenticated verification is refused and not logged; an authenticated one is answered', async () => {
    const code = `0d5a2c1e-9b7f-4e21-8c3d-${randomUUID().slice(-12)}`;
    const r = await webhook({ verificationCode: code }, null);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('invalid_webhook_auth');
    const ok = await webhook({ verificationCode: code });
    expect(ok.status).toBe(200);
    expect(ok.body.verification).toBe(true);
    const lines = () =>
      platformLog()
        .split('\n')
        .filter((l) => l.includes(code));
    for (let i = 0; i < 50 && lines().length === 0; i++) await sleep(100);
    expect(lines()).toHaveLength(1);
    // Something that is not a verification code is never logged.
    const odd = await webhook({ verificationCode: 'pasted\nfake log line' }, null);
    expect(odd.status).toBe(401);
    expect(platformLog()).not.toContain('fake log line');
  });

  it('Clover’s own uninstall (the emulator’s app webhook) disables the merchant and its keys at once', async () => {
    const m = await newMerchant();
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(200);
    const u = await emulator('POST', '/_emulator/uninstall', {
      merchant_id: m.merchant_id,
      client_id: platform().app.client_id,
    });
    expect(u.status).toBe(200);
    // Clover's POST is answered once the merchant is disabled and the follow-ups ran.
    const deliveries = async () =>
      (
        await emulator<{ kind: string; status: number | null; authenticated: boolean; body: any }[]>(
          'GET',
          `/_emulator/app-webhooks?client_id=${platform().app.client_id}`,
        )
      ).body.filter((d) => d.kind === 'events' && d.body.merchants[m.merchant_id]);
    const deleted = async () =>
      (await deliveries()).some(
        (d) => d.status !== null && d.body.merchants[m.merchant_id].some((e: { type: string }) => e.type === 'DELETE'),
      );
    for (let i = 0; i < 100 && !(await deleted()); i++) await sleep(100);
    expect(await status(m.merchant_id)).toBe('disabled');
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(401);
    const events = (await deliveries()).flatMap((d) => d.body.merchants[m.merchant_id]);
    // Clover's shape: batched per app, `A:<appId>` events, X-Clover-Auth; CREATE at install, DELETE now.
    expect(events.map((e: { type: string }) => e.type)).toEqual(['CREATE', 'DELETE']);
    for (const e of events) expect(e.objectId).toBe(`A:${platform().app.client_id}`);
    for (const d of await deliveries()) expect(d).toMatchObject({ authenticated: true });
    expect((await deliveries()).at(-1)!.status).toBe(200);
  });

  it('uninstall follow-ups left undone are re-run by the token refresher until done', async () => {
    const m = await newMerchant();
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(200);
    // An uninstall whose follow-ups (secret deletion, cache flush) failed: disabled, recorded as pending.
    const since = new Date().toISOString();
    await ddb().send(
      new UpdateCommand({
        TableName: platform().tableName,
        Key: { pk: `MERCHANT#${m.merchant_id}`, sk: 'MERCHANT' },
        UpdateExpression: 'SET #s = :d, uninstall_followups_since = :since',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':d': 'disabled', ':since': since },
      }),
    );
    const report = await invoke('token-refresher');
    expect(report.uninstall_followups_done).toBeGreaterThanOrEqual(1);
    expect((await merchantItem(m.merchant_id))?.uninstall_followups_since).toBeUndefined();
    const d = await secrets().send(new DescribeSecretCommand({ SecretId: merchantSecretId(m.merchant_id) }));
    expect(d.DeletedDate).toBeInstanceOf(Date);
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(401);
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

describe('npm run keys against a deployed stage', () => {
  // A stand-in for CloudFormation's DescribeStacks (AWS Query protocol): the stack's outputs.
  let outputs: Record<string, string> = {};
  let cfnUrl = '';
  let server: Server;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const name = new URLSearchParams(body).get('StackName');
        const members = Object.entries(outputs)
          .map(([k, v]) => `<member><OutputKey>${k}</OutputKey><OutputValue>${v}</OutputValue></member>`)
          .join('');
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${name}</StackName><StackId>arn:aws:cloudformation:us-east-1:000000000000:stack/${name}/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    cfnUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  /** The CLI as an operator runs it for a deployed stage: their credentials (here the `ops` profile), AWS's endpoints. */
  const keysStage = (args: string[], apiGatewayUrl = platform().gatewayUrl) => {
    const ops = readProfile(platform().dataDir, 'ops');
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', 'local/keys-cli.ts', ...args, '--stage', 'sandbox'],
        {
          env: {
            ...process.env,
            AWS_REGION: 'us-east-1',
            AWS_ACCESS_KEY_ID: ops.accessKeyId,
            AWS_SECRET_ACCESS_KEY: ops.secretAccessKey,
            AWS_ENDPOINT_URL_DYNAMODB: platform().dynamodbEndpoint,
            AWS_ENDPOINT_URL_API_GATEWAY: apiGatewayUrl,
            AWS_ENDPOINT_URL_CLOUDFORMATION: cfnUrl,
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
  };

  it('revoke flushes the authorizer cache of the API named in the stack outputs: the key stops at once', async () => {
    outputs = { RestApiId: 'local', StageName: 'sandbox' };
    const m = await newMerchant();
    expect((await api('GET', '/v1/charges', { key: m.secret_key })).status).toBe(200);
    const r = await keysStage(['revoke', m.secret_key]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/flushed the authorizer cache of local\//);
    expect((await api('GET', '/v1/charges', { key: m.secret_key })).status).toBe(401);
  });

  it('exits 3 when it could not flush (no outputs, API Gateway unreachable), having revoked the key', async () => {
    const m = await newMerchant();
    outputs = {};
    const noOutputs = await keysStage(['revoke', m.secret_key]);
    expect(noOutputs.code).toBe(3);
    expect(noOutputs.stderr).toMatch(
      /could not be flushed.*no RestApiId\/StageName outputs.*npm run keys -- flush --stage sandbox/s,
    );
    outputs = { RestApiId: 'local', StageName: 'sandbox' };
    const unreachable = await keysStage(['revoke', m.publishable_key], 'http://127.0.0.1:9');
    expect(unreachable.code).toBe(3);
    expect(unreachable.stdout).toMatch(/revoked key_/);
    // The retry the message names does the flush.
    expect((await keysStage(['flush'])).code).toBe(0);
    expect((await api('GET', '/v1/charges', { key: m.secret_key })).status).toBe(401);
    expect((await api('GET', '/v1/checkout-config', { key: m.publishable_key })).status).toBe(401);
  });

  it('create and revoke write audit records: who, when, which key; `audit` lists them', async () => {
    outputs = { RestApiId: 'local', StageName: 'sandbox' };
    const m = await newMerchant();
    const made = await keysStage(['create', '--merchant', m.merchant_id, '--type', 'secret']);
    expect(made.code, made.stderr).toBe(0);
    const keyId = /key (key_\w+)/.exec(made.stdout)![1]!;
    expect((await keysStage(['revoke', keyId, '--merchant', m.merchant_id])).code).toBe(0);
    const audit = (await allItems()).filter(
      (i) => i.pk === `MERCHANT#${m.merchant_id}` && String(i.sk).startsWith('AUDIT#') && i.key_id === keyId,
    );
    const ops = readProfile(platform().dataDir, 'ops');
    expect(audit.map((a) => a.action).sort()).toEqual(['key_created', 'key_revoked']);
    for (const a of audit) {
      expect(a.actor).toContain(`AWS access key ${ops.accessKeyId}`);
      expect(Date.parse(String(a.at))).toBeGreaterThan(Date.now() - 120_000);
      expect(JSON.stringify(a)).not.toMatch(/sk_test_[0-9A-Za-z]{32}|key_hash/);
    }
    const listed = await keysStage(['audit', '--merchant', m.merchant_id]);
    expect(listed.stdout).toMatch(new RegExp(`key_created\\s+${keyId}`));
    expect(listed.stdout).toMatch(new RegExp(`key_revoked\\s+${keyId}`));
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
