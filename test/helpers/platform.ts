/**
 * Test helpers for the local platform started by test/global-setup.ts: HTTP calls through the
 * gateway, the emulator's control surface, and real AWS SDK clients on the local endpoints.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';

export const platform = () => inject('platform');

/** Clients with the platform's `admin` profile (inspection, like the account that deploys). */
export const ddb = () =>
  DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: platform().dynamodbEndpoint, region: 'us-east-1', credentials: platform().admin }),
  );
export const secrets = () =>
  new SecretsManagerClient({
    endpoint: platform().secretsManagerUrl,
    region: 'us-east-1',
    credentials: platform().admin,
  });
/** A merchant's OAuth secret id, under the stack's prefix. */
export const merchantSecretId = (merchantId: string) => `${platform().merchantSecretPrefix}${merchantId}`;

export interface Res<T = Record<string, any>> {
  status: number;
  headers: Headers;
  body: T;
}

export async function api<T = Record<string, any>>(
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; raw?: string; idem?: string; headers?: Record<string, string> } = {},
): Promise<Res<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers.Authorization = `Bearer ${opts.key}`;
  if (opts.idem) headers['Idempotency-Key'] = opts.idem;
  if (opts.body !== undefined || opts.raw !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${platform().gatewayUrl}${path}`, {
    method,
    headers,
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await r.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { text };
  }
  return { status: r.status, headers: r.headers, body };
}

export async function emulator<T = any>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const r = await fetch(`${platform().emulatorUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

export const demo = () => platform().demo;
export const newKey = () => randomUUID();

/** A `clv_` token for a card, made through our own POST /v1/tokens (the API-only path). */
export async function cardToken(number = '4242424242424242', key = demo().publishable_key): Promise<string> {
  const r = await api('POST', '/v1/tokens', {
    key,
    body: {
      card: {
        number,
        exp_month: '12',
        exp_year: String(new Date().getUTCFullYear() + 3),
        cvv: number.startsWith('3') ? '1234' : '123',
      },
    },
  });
  if (r.status !== 201) throw new Error(`tokenize failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

/** Requests the emulator received, optionally under a path prefix. */
export async function cloverRequests(
  prefix = '/',
): Promise<{ method: string; path: string; merchant_id?: string; headers: Record<string, string>; body: any }[]> {
  return (await emulator('GET', `/_emulator/requests?path=${encodeURIComponent(prefix)}`)).body;
}

/** Invokes a scheduled function through the gateway's Lambda Invoke endpoint. */
export async function invoke<T = any>(fn: 'reconciler' | 'token-refresher', payload: unknown = {}): Promise<T> {
  const r = await fetch(`${platform().gatewayUrl}/2015-03-31/functions/${fn}/invocations`, {
    method: 'POST',
    body: JSON.stringify(payload),
  });
  return (await r.json()) as T;
}

/** Onboards a fresh emulator merchant through the real callback and makes its keys. */
export async function newMerchant(): Promise<{ merchant_id: string; publishable_key: string; secret_key: string }> {
  const { authorizeRedirect } = await import('../../local/demo-merchant');
  const p = platform();
  const created = await emulator<{ merchant_id: string }>('POST', '/_emulator/merchants');
  const location = await authorizeRedirect(
    { gatewayUrl: p.gatewayUrl, emulatorUrl: p.emulatorUrl, clientId: p.app.client_id },
    created.body.merchant_id,
  );
  const cb = await fetch(location);
  if (cb.status !== 200) throw new Error(`callback ${cb.status}: ${await cb.text()}`);
  const keys = await Promise.all([
    createKey(created.body.merchant_id, 'publishable'),
    createKey(created.body.merchant_id, 'secret'),
  ]);
  return { merchant_id: created.body.merchant_id, publishable_key: keys[0], secret_key: keys[1] };
}

/** `npm run keys -- create`, as a user runs it, against the test platform. */
export async function keysCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  const p = platform();
  const port = (u: string) => new URL(u).port;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/keys-cli.ts', ...args],
      {
        env: {
          ...process.env,
          DATA_DIR: p.dataDir,
          PORT: port(p.gatewayUrl),
          DYNAMODB_PORT: port(p.dynamodbEndpoint),
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export async function createKey(merchantId: string, type: 'publishable' | 'secret'): Promise<string> {
  const r = await keysCli(['create', '--merchant', merchantId, '--type', type]);
  if (r.code !== 0) throw new Error(`keys create failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

/** Everything the platform printed so far (handler logs, gateway, emulator, secrets endpoint). */
export const platformLog = () => readFileSync(platform().logFile, 'utf8');

/** The merchant's record as stored (`MERCHANT#<id>` / `MERCHANT`), or undefined. */
export async function merchantItem(merchantId: string): Promise<Record<string, any> | undefined> {
  const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
  const r = await ddb().send(
    new GetCommand({ TableName: platform().tableName, Key: { pk: `MERCHANT#${merchantId}`, sk: 'MERCHANT' } }),
  );
  return r.Item;
}

export async function allItems(): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const r = await ddb().send(new ScanCommand({ TableName: platform().tableName, ExclusiveStartKey: start }));
    out.push(...(r.Items ?? []));
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}

export async function allSecretValues(): Promise<string[]> {
  const sm = secrets();
  const list = await sm.send(new ListSecretsCommand({ MaxResults: 100 }));
  const out: string[] = [];
  for (const s of list.SecretList ?? []) {
    try {
      const v = await sm.send(new GetSecretValueCommand({ SecretId: s.ARN! }));
      out.push(v.SecretString ?? '');
    } catch {
      // scheduled for deletion
    }
  }
  return out;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
