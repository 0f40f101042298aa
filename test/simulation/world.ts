/**
 * The simulation's world, shared by every seed of a run: DynamoDB Local (AWS's own emulator, on
 * tmpfs) with the table made from shared/table.ts, a small Secrets Manager endpoint, and the Clover
 * emulator over HTTP — in process, with one virtual clock per merchant. The real handler modules
 * (functions/*) are imported after the environment points the AWS SDK and Clover at them.
 *
 * Every seed gets a merchant of its own (its own partition, its own emulator merchant, token and
 * settings), so seeds run side by side without touching each other.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  type DynamoDBClient,
  ProjectionType,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { type CloverEmulator, startCloverEmulator } from '../../local/clover-emulator/index';
import { type DynamoDbLocal, localDynamoClient, startDynamoDbLocal } from '../../local/dynamodb';
import { freePort } from '../../local/ports';
import { tableDefinition } from '../../shared/table';

export const TABLE = 'clover-payments-sim';
export const APP_SECRET_ID = 'sim/app';
export const MERCHANT_PREFIX = 'sim/merchants/';

export type Handler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export interface World {
  readonly emulatorUrl: string;
  readonly ddb: DynamoDBDocumentClient;
  readonly handlers: { charges: Handler; refunds: Handler; sessions: Handler };
  readonly reconcile: (event: Record<string, unknown>) => Promise<Record<string, unknown>>;
  /** The merchant clocks the emulator reads (set per seed). */
  readonly clocks: Map<string, () => number>;
  readonly app: { client_id: string; client_secret: string };
  stop(): Promise<void>;
}

/** Creates the table as infra/data.ts deploys it, index projections included. */
async function createTable(client: DynamoDBClient): Promise<void> {
  const d = tableDefinition;
  const attrs = new Set<string>([d.partitionKey, d.sortKey]);
  for (const g of d.globalSecondaryIndexes) {
    attrs.add(g.partitionKey);
    attrs.add(g.sortKey);
  }
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [...attrs].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: d.partitionKey, KeyType: 'HASH' },
        { AttributeName: d.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: d.globalSecondaryIndexes.map((g) => ({
        IndexName: g.indexName,
        KeySchema: [
          { AttributeName: g.partitionKey, KeyType: 'HASH' },
          { AttributeName: g.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: g.projection === 'KEYS_ONLY' ? ProjectionType.KEYS_ONLY : ProjectionType.ALL },
      })),
    }),
  );
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: TABLE,
      TimeToLiveSpecification: { AttributeName: d.ttlAttribute, Enabled: true },
    }),
  );
}

/** Secrets Manager, as much of it as the functions use: Get, Put and Create, in memory. */
async function startSecrets(): Promise<{ url: string; close(): Promise<void> }> {
  const secrets = new Map<string, string>();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const op = String(req.headers['x-amz-target'] ?? '').replace(/^secretsmanager\./, '');
      const b = JSON.parse(raw || '{}') as Record<string, string>;
      const reply = (status: number, body: unknown, type?: string) => {
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          ...(type ? { 'x-amzn-errortype': type } : {}),
        });
        res.end(JSON.stringify(body));
      };
      const name = b.SecretId ?? b.Name ?? '';
      const arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`;
      if (op === 'CreateSecret' || op === 'PutSecretValue') {
        secrets.set(name, b.SecretString ?? '');
        return reply(200, { ARN: arn, Name: name, VersionId: randomUUID() });
      }
      if (op === 'GetSecretValue') {
        const value = secrets.get(name);
        if (value === undefined) {
          return reply(400, { __type: 'ResourceNotFoundException', message: 'not found' }, 'ResourceNotFoundException');
        }
        return reply(200, {
          ARN: arn,
          Name: name,
          VersionId: 'v',
          SecretString: value,
          CreatedDate: Date.now() / 1000,
        });
      }
      reply(400, { __type: 'UnknownOperationException', message: op }, 'UnknownOperationException');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export async function startWorld(): Promise<World> {
  const root = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dataDir = mkdtempSync(join(root, 'clover-sim-'));
  const ddbPort = await freePort();
  let ddbLocal: DynamoDbLocal | null = null;
  let emulator: CloverEmulator | null = null;
  let secrets: Awaited<ReturnType<typeof startSecrets>> | null = null;
  try {
    ddbLocal = await startDynamoDbLocal({ port: ddbPort, dataDir });
    const raw = localDynamoClient(ddbLocal.endpoint, { accessKeyId: 'sim', secretAccessKey: 'sim' });
    await createTable(raw);
    secrets = await startSecrets();
    const clocks = new Map<string, () => number>();
    const app = { client_id: 'SIMAPP0000001', client_secret: randomUUID().replace(/-/g, '') };
    emulator = await startCloverEmulator({
      dataFile: null,
      apps: [app],
      clockFor: (merchantId) => clocks.get(merchantId)?.(),
    });
    const url = emulator.url;
    // Rate limits are injected as faults, where a schedule says so; real ones would depend on timing.
    await fetch(`${url}/_emulator/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ rate_limits: false }),
    });
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'sim',
      AWS_SECRET_ACCESS_KEY: 'sim',
      AWS_ENDPOINT_URL_DYNAMODB: ddbLocal.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      TABLE_NAME: TABLE,
      APP_SECRET_ID,
      MERCHANT_SECRET_PREFIX: MERCHANT_PREFIX,
      CLOVER_ENVIRONMENT: 'sandbox',
      CLOVER_HOSTS_JSON: JSON.stringify({
        api: url,
        oauth_authorize: url,
        token: url,
        scl: url,
        sdk_url: `${url}/sdk.js`,
      }),
      LOG_LEVEL: process.env.SIM_LOG_LEVEL ?? 'WARN',
      POWERTOOLS_METRICS_DISABLED: 'true',
      CLOVER_RECONCILE_PER_MERCHANT: '1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    const ddb = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const { secretsManager } = await import('../../shared/secrets/client');
    const { PutSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    await secretsManager.send(
      new PutSecretValueCommand({
        SecretId: APP_SECRET_ID,
        SecretString: JSON.stringify({ ...app, webhook_auth_code: 'sim', environment: 'sandbox' }),
      }),
    );
    const charges = (await import('../../functions/charges/index')).handler as Handler;
    const refunds = (await import('../../functions/refunds/index')).handler as Handler;
    const sessions = (await import('../../functions/checkout-sessions/index')).handler as Handler;
    const reconciler = (await import('../../functions/reconciler/index')).handler;
    const stoppable = { ddbLocal, emulator, secrets };
    return {
      emulatorUrl: url,
      ddb,
      handlers: { charges, refunds, sessions },
      reconcile: async (event) => (await reconciler(event)) as unknown as Record<string, unknown>,
      clocks,
      app,
      stop: async () => {
        await stoppable.emulator.close();
        await stoppable.secrets.close();
        await stoppable.ddbLocal.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await emulator?.close();
    await secrets?.close();
    await ddbLocal?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
}

export interface SimMerchant {
  readonly merchantId: string;
  readonly publicKey: string;
}

/**
 * A merchant that has installed the app, as onboarding would leave it: its OAuth tokens (from the
 * emulator's real authorize → token exchange) in Secrets Manager, its active record with its PAKMS
 * key in DynamoDB, and its emulator settings.
 */
export async function newMerchant(
  w: World,
  settings: { idempotency_mode: string; list_lag_ms: number },
  clock: () => number,
): Promise<SimMerchant> {
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(`${w.emulatorUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const created = await post('/_emulator/merchants', {});
  const merchantId = String(created.body.merchant_id);
  w.clocks.set(merchantId, clock);
  const authorize = new URL('/oauth/v2/authorize', w.emulatorUrl);
  authorize.searchParams.set('client_id', w.app.client_id);
  authorize.searchParams.set('merchant_id', merchantId);
  authorize.searchParams.set('redirect_uri', 'https://sim.invalid/callback');
  const redirect = await fetch(authorize, { redirect: 'manual' });
  const code = new URL(redirect.headers.get('location') ?? '').searchParams.get('code') ?? '';
  const pair = (await post('/oauth/v2/token', { ...w.app, code })).body;
  const pakms = (await (
    await fetch(`${w.emulatorUrl}/pakms/apikey`, { headers: { Authorization: `Bearer ${pair.access_token}` } })
  ).json()) as { apiAccessKey: string };
  const { secretsManager } = await import('../../shared/secrets/client');
  const { PutSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  await secretsManager.send(
    new PutSecretValueCommand({
      SecretId: `${MERCHANT_PREFIX}${merchantId}`,
      SecretString: JSON.stringify({ ...pair, obtained_at: Math.floor(Date.now() / 1000) }),
    }),
  );
  await w.ddb.send(
    new PutCommand({
      TableName: TABLE,
      Item: {
        pk: `MERCHANT#${merchantId}`,
        sk: 'MERCHANT',
        merchant_id: merchantId,
        status: 'active',
        pakms_key: pakms.apiAccessKey,
        updated_at: new Date().toISOString(),
      },
    }),
  );
  const set = await post(`/_emulator/merchants/${merchantId}/config`, settings);
  if (set.status !== 200) throw new Error(`emulator merchant config: ${JSON.stringify(set.body)}`);
  return { merchantId, publicKey: String(created.body.public_key) };
}

/** A single-use card token, made at the emulator's token host as the hosted iframe would. */
export async function cardToken(w: World, m: SimMerchant, number: string): Promise<string> {
  const r = await fetch(`${w.emulatorUrl}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', apikey: m.publicKey },
    body: JSON.stringify({ card: { number, exp_month: '12', exp_year: '2039', cvv: '739', brand: 'VISA' } }),
  });
  const body = (await r.json()) as { id?: string };
  if (!body.id) throw new Error(`emulator token: ${r.status} ${JSON.stringify(body)}`);
  return body.id;
}
