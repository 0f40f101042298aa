/**
 * The local platform: DynamoDB Local, the Secrets Manager endpoint, the Clover sandbox emulator and
 * the gateway in front of the real handlers. Everything the handlers see differs from AWS by
 * endpoints and configuration only: the AWS SDK's own `AWS_ENDPOINT_URL_*` variables and the app
 * secret's Clover hosts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { CloverHosts } from '../shared/clover/hosts';
import { type FunctionName, routes } from '../shared/routes';
import type { AppConfig } from '../shared/secrets/app-config';
import { defaultTableName } from '../shared/table';
import { type CloverEmulator, startCloverEmulator } from './clover-emulator';
import { type DynamoDbLocal, ensureTable, localDynamoClient, startDynamoDbLocal } from './dynamodb';
import { type Gateway, startGateway } from './gateway';
import { javaMissingMessage } from './java';
import { assertPortFree } from './ports';
import { type SecretsManagerServer, startSecretsManager } from './secrets-manager';

export interface PlatformOptions {
  port: number;
  emulatorPort: number;
  dynamodbPort: number;
  secretsManagerPort: number;
  dataDir: string;
  cloverEnv: 'emulator' | 'sandbox';
  log?: (component: string, line: string) => void;
}

export interface Platform {
  gatewayUrl: string;
  emulatorUrl: string;
  dynamodbEndpoint: string;
  secretsManagerUrl: string;
  dataDir: string;
  app: AppCredentials;
  gateway: Gateway;
  dynamodb: DynamoDbLocal;
  secretsManager: SecretsManagerServer;
  emulator: CloverEmulator | null;
  stop(): Promise<void>;
}

export interface AppCredentials {
  client_id: string;
  client_secret: string;
  webhook_auth_code: string;
}

export const APP_SECRET_ID = 'clover-payments/app';
export const TABLE_NAME = defaultTableName;

/** Reads PORT, CLOVER_EMULATOR_PORT, … with the defaults of API.md §3. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): PlatformOptions {
  const num = (name: string, fallback: number) => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name} must be a port number, not "${v}".`);
    return n;
  };
  const cloverEnv = env.CLOVER_ENV ?? 'emulator';
  if (cloverEnv !== 'emulator' && cloverEnv !== 'sandbox') {
    throw new Error(`CLOVER_ENV must be "emulator" or "sandbox", not "${cloverEnv}".`);
  }
  return {
    port: num('PORT', 3000),
    emulatorPort: num('CLOVER_EMULATOR_PORT', 3100),
    dynamodbPort: num('DYNAMODB_PORT', 8000),
    secretsManagerPort: num('SECRETS_MANAGER_PORT', 8001),
    dataDir: resolve(env.DATA_DIR ?? '.local'),
    cloverEnv,
  };
}

export async function startPlatform(opts: PlatformOptions): Promise<Platform> {
  const log = opts.log ?? (() => {});
  const java = javaMissingMessage();
  if (java) throw new PlatformError(java);
  await assertPortFree(opts.port, 'PORT');
  await assertPortFree(opts.dynamodbPort, 'DYNAMODB_PORT');
  await assertPortFree(opts.secretsManagerPort, 'SECRETS_MANAGER_PORT');
  if (opts.cloverEnv === 'emulator') await assertPortFree(opts.emulatorPort, 'CLOVER_EMULATOR_PORT');
  mkdirSync(opts.dataDir, { recursive: true });
  const app = appCredentials(opts);

  const started: { stop?: () => Promise<void>; close?: () => Promise<void> }[] = [];
  // Every endpoint is known before anything starts: the handlers' configuration is set first, so
  // that their modules can load (and compile) while DynamoDB Local's JVM boots.
  Object.assign(process.env, {
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${opts.dynamodbPort}`,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${opts.secretsManagerPort}`,
    AWS_ENDPOINT_URL_API_GATEWAY: `http://127.0.0.1:${opts.port}`,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    TABLE_NAME,
    APP_SECRET_ID,
    MERCHANT_SECRET_PREFIX: 'clover-payments/merchants/',
    REST_API_ID: 'local',
    STAGE_NAME: 'local',
    CLOVER_ENVIRONMENT: 'sandbox',
    AWS_ENDPOINT_URL_LAMBDA: `http://127.0.0.1:${opts.port}`,
  });
  if (opts.cloverEnv === 'emulator')
    process.env.CLOVER_HOSTS_JSON = JSON.stringify(emulatorHosts(`http://127.0.0.1:${opts.emulatorPort}`));
  else delete process.env.CLOVER_HOSTS_JSON;

  const modules = preloadFunctions();
  try {
    const track = <T extends { stop?: () => Promise<void>; close?: () => Promise<void> }>(x: T): T => {
      started.push(x);
      return x;
    };
    const [dynamodb, secretsManager, emulator] = await Promise.all([
      startDynamoDbLocal({ port: opts.dynamodbPort, dataDir: opts.dataDir }).then(track),
      startSecretsManager({
        port: opts.secretsManagerPort,
        dataFile: join(opts.dataDir, 'secrets-manager.json'),
        log: (l) => log('secrets', l),
      }).then(track),
      opts.cloverEnv === 'emulator'
        ? startCloverEmulator({
            port: opts.emulatorPort,
            dataFile: join(opts.dataDir, 'clover-emulator.json'),
            apps: [{ client_id: app.client_id, client_secret: app.client_secret }],
            log: (l) => log('clover', l),
          }).then(track)
        : Promise.resolve(null),
    ]);

    await ensureTable(localDynamoClient(dynamodb.endpoint), TABLE_NAME);
    await ensureAppSecret(secretsManager.url, appConfig(app));

    const gateway = await startGateway({ port: opts.port, load: (fn) => modules[fn], log: (l) => log('gateway', l) });
    started.push(gateway);
    started.push(startSchedules(gateway.url, log));

    return {
      gatewayUrl: gateway.url,
      emulatorUrl: emulator?.url ?? '',
      dynamodbEndpoint: dynamodb.endpoint,
      secretsManagerUrl: secretsManager.url,
      dataDir: opts.dataDir,
      app,
      gateway,
      dynamodb,
      secretsManager,
      emulator,
      stop: () => stopAll(started),
    };
  } catch (e) {
    await stopAll(started);
    throw e;
  }
}

/** Starts importing every function's module at once; the gateway awaits them on first use. */
function preloadFunctions(): Record<FunctionName, Promise<{ handler: unknown }>> {
  const names: FunctionName[] = [
    ...new Set<FunctionName>([...routes.map((r) => r.fn), 'authorizer', 'reconciler', 'token-refresher']),
  ];
  const out = {} as Record<FunctionName, Promise<{ handler: unknown }>>;
  for (const fn of names) {
    out[fn] = import(`../functions/${fn}/index.ts`);
    out[fn].catch(() => {}); // surfaced by the gateway when the function is called
  }
  return out;
}

/**
 * The EventBridge schedules of infra/schedules.ts, locally: the same functions, invoked through
 * the gateway's Lambda Invoke endpoint on the same periods.
 */
export const schedules = [
  { fn: 'reconciler', everyMs: 60_000 },
  { fn: 'token-refresher', everyMs: 5 * 60_000 },
] as const;

function startSchedules(gatewayUrl: string, log: (c: string, l: string) => void): { stop: () => Promise<void> } {
  const timers = schedules.map(({ fn, everyMs }) =>
    setInterval(() => {
      fetch(`${gatewayUrl}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', body: '{}' })
        .then(async (r) => log('schedule', `${fn} ${r.status} ${(await r.text()).slice(0, 200)}`))
        .catch((e: Error) => log('schedule', `${fn} failed: ${e.message}`));
    }, everyMs),
  );
  return { stop: async () => timers.forEach(clearInterval) };
}

async function stopAll(started: { stop?: () => Promise<void>; close?: () => Promise<void> }[]): Promise<void> {
  await Promise.allSettled(started.reverse().map((s) => (s.stop ? s.stop() : s.close?.())));
}

export class PlatformError extends Error {
  override name = 'PlatformError';
}

const ID_ALPHABET = 'ABCDEFGHJKMNPQRSTVWXYZ0123456789';
export function cloverStyleId(): string {
  const bytes = randomBytes(13);
  return [...bytes].map((b) => ID_ALPHABET[b % ID_ALPHABET.length]).join('');
}

/** The app's OAuth client and webhook code: made once for the emulator and kept in $DATA_DIR. */
function appCredentials(opts: PlatformOptions): AppCredentials {
  if (opts.cloverEnv === 'sandbox') {
    const { CLOVER_CLIENT_ID, CLOVER_CLIENT_SECRET, CLOVER_WEBHOOK_AUTH_CODE } = process.env;
    if (!CLOVER_CLIENT_ID || !CLOVER_CLIENT_SECRET) {
      throw new PlatformError(
        'CLOVER_ENV=sandbox needs your Clover app credentials: set CLOVER_CLIENT_ID and CLOVER_CLIENT_SECRET (and CLOVER_WEBHOOK_AUTH_CODE).',
      );
    }
    return {
      client_id: CLOVER_CLIENT_ID,
      client_secret: CLOVER_CLIENT_SECRET,
      webhook_auth_code: CLOVER_WEBHOOK_AUTH_CODE ?? '',
    };
  }
  const file = join(opts.dataDir, 'app.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as AppCredentials;
  const app: AppCredentials = {
    client_id: cloverStyleId(),
    client_secret: randomBytes(16).toString('hex'),
    webhook_auth_code: randomBytes(16).toString('hex'),
  };
  writeFileSync(file, JSON.stringify(app, null, 2), { mode: 0o600 });
  return app;
}

function appConfig(app: AppCredentials): AppConfig {
  return {
    client_id: app.client_id,
    client_secret: app.client_secret,
    webhook_auth_code: app.webhook_auth_code,
    environment: 'sandbox',
    post_install_redirect: null,
  };
}

/** The emulator serves all of Clover's hosts on one port, by path (API.md §3). */
function emulatorHosts(url: string): CloverHosts {
  return { api: url, oauth_authorize: url, token: url, scl: url, sdk_url: `${url}/sdk.js` };
}

/** Writes the app secret, or a new version of it when the local ports changed since last time. */
async function ensureAppSecret(endpoint: string, value: AppConfig): Promise<void> {
  const sm = new SecretsManagerClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const text = JSON.stringify(value);
  try {
    const current = await sm.send(new GetSecretValueCommand({ SecretId: APP_SECRET_ID }));
    if (current.SecretString !== text) {
      await sm.send(new PutSecretValueCommand({ SecretId: APP_SECRET_ID, SecretString: text }));
    }
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
    await sm.send(new CreateSecretCommand({ Name: APP_SECRET_ID, SecretString: text }));
  }
}
