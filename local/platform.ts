/**
 * The local platform: DynamoDB Local, the Secrets Manager endpoint, the Clover sandbox emulator and
 * the gateway in front of the real handlers. Everything the handlers see differs from AWS by
 * endpoints and configuration only: the AWS SDK's own `AWS_ENDPOINT_URL_*` variables and the app
 * secret's Clover hosts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { CloverHosts } from '../shared/clover/hosts';
import type { AppConfig } from '../shared/secrets/app-config';
import { buildFunctions, repoRoot } from './build';
import { type CloverEmulator, startCloverEmulator } from './clover-emulator';
import { CREDENTIALS_FILE, ensureCredentials, type LocalCredential, readProfile } from './credentials';
import { type DynamoDbLocal, ensureTable, localDynamoClient, startDynamoDbLocal } from './dynamodb';
import { startDynamoDbEndpoint } from './dynamodb-endpoint';
import { type EventBridgeEndpoint, startEventBridge } from './eventbridge';
import { type Gateway, startGateway } from './gateway';
import { IamEnforcer } from './iam-enforcement';
import { javaMissingMessage } from './java';
import { LambdaRuntime } from './lambda-runtime';
import { assertPortFree, freePort } from './ports';
import { type SecretsManagerServer, startSecretsManager } from './secrets-manager';
import { LOCAL_REST_API_ID, type LocalStack, localStack, principalsOf, resolveContext } from './stack';
import { StreamPoller } from './streams';

export interface PlatformOptions {
  port: number;
  emulatorPort: number;
  dynamodbPort: number;
  secretsManagerPort: number;
  dataDir: string;
  cloverEnv: 'emulator' | 'sandbox';
  log?: (component: string, line: string) => void;
  /** Rebuild the bundles and reload the functions when infra/, functions/ or shared/ change. */
  watch?: boolean;
  /**
   * Variables set on every function on top of the template's, as an operator may change a
   * function's configuration after a deploy (the reliability suite: a shorter Clover timeout).
   */
  functionEnvironment?: Record<string, string>;
  /** Periods of the scheduled functions, where they differ from infra/schedules.ts (tests: faster retries). */
  scheduleEveryMs?: Partial<Record<(typeof schedules)[number]['fn'], number>>;
  /** The local EventBridge endpoint's port (0: any free port). */
  eventBridgePort?: number;
}

export interface Platform {
  gatewayUrl: string;
  emulatorUrl: string;
  dynamodbEndpoint: string;
  secretsManagerUrl: string;
  dataDir: string;
  app: AppCredentials;
  /** Physical names from the synthesized template. */
  tableName: string;
  appSecretId: string;
  merchantSecretPrefix: string;
  stageName: string;
  /** $DATA_DIR/aws-credentials: one profile per function, `ops` and `admin`. */
  credentialsFile: string;
  gateway: Gateway;
  lambda: LambdaRuntime;
  dynamodb: DynamoDbLocal;
  secretsManager: SecretsManagerServer;
  emulator: CloverEmulator | null;
  eventBridge: EventBridgeEndpoint;
  streams: StreamPoller;
  stop(): Promise<void>;
}

export interface AppCredentials {
  client_id: string;
  client_secret: string;
  webhook_auth_code: string;
}

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
    watch: env.WATCH === '1' || env.WATCH === 'true',
    // Webhook retries in seconds instead of hours (the fault tests; docs/events.md).
    ...(env.EVENTS_RETRY_SCALE ? { functionEnvironment: { EVENTS_RETRY_SCALE: env.EVENTS_RETRY_SCALE } } : {}),
    ...(env.EVENTS_SWEEP_MS ? { scheduleEveryMs: { 'event-deliverer': num('EVENTS_SWEEP_MS', 60_000) } } : {}),
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
  const track = <T extends { stop?: () => Promise<void>; close?: () => Promise<void> }>(x: T): T => {
    started.push(x);
    return x;
  };
  try {
    // DynamoDB Local's JVM boots while the functions are built.
    const backendPort = await freePort();
    const dynamodbStarting = startDynamoDbLocal({ port: backendPort, dataDir: opts.dataDir }).then(track);
    dynamodbStarting.catch(() => {});
    const build = await buildFunctions({ log: (l) => log('build', l) });
    const stack = localStack(build);
    const credentials = ensureCredentials(opts.dataDir, [...stack.functions.keys(), 'ops', 'admin']);
    const iam = new IamEnforcer({
      principals: principalsOf(stack, credentials),
      kmsKeyArn: stack.kmsKeyArn,
      log: (l) => log('iam', l),
    });

    const [dynamodb, secretsManager, emulator] = await Promise.all([
      dynamodbStarting,
      startSecretsManager({
        port: opts.secretsManagerPort,
        dataFile: join(opts.dataDir, 'secrets-manager.json'),
        log: (l) => log('secrets', l),
        arnSuffix: resolveContext.secretSuffix,
        authorize: (req, lookup) => iam.authorizeSecretsManager(req, lookup),
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
    const dynamodbEndpoint = track(
      await startDynamoDbEndpoint({
        port: opts.dynamodbPort,
        backendPort,
        authorize: (req) => iam.authorizeDynamoDb(req),
      }),
    );

    const eventBridge = track(
      await startEventBridge({
        port: opts.eventBridgePort ?? 0,
        dataFile: join(opts.dataDir, 'eventbridge.jsonl'),
        authorize: (req, buses) => iam.authorizeEvents(req, buses),
      }),
    );

    const admin = credentials.get('admin')!;
    await ensureTable(localDynamoClient(dynamodbEndpoint.url, admin), stack.tableName);
    // Clover issues the webhook auth code only after the URL's verification handshake, which the
    // webhooks function takes only while no code is configured: the first start (or a new port)
    // goes through that set-up as ops do (docs/deploy.md), with the code left out until it is done.
    const webhookUrl = `http://127.0.0.1:${opts.port}/v1/webhooks/clover`;
    const verifyWebhook = emulator !== null && readWebhookState(opts.dataDir)?.url !== webhookUrl;
    await ensureAppSecret(secretsManager.url, admin, stack, {
      ...appConfig(app),
      ...(verifyWebhook ? { webhook_auth_code: '' } : {}),
    });

    const endpoints: Record<string, string> = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.url,
      AWS_ENDPOINT_URL_API_GATEWAY: `http://127.0.0.1:${opts.port}`,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridge.url,
      ...(opts.cloverEnv === 'emulator'
        ? { CLOVER_HOSTS_JSON: JSON.stringify(emulatorHosts(`http://127.0.0.1:${opts.emulatorPort}`)) }
        : {}),
    };
    // The stack names its public URLs after the deployed API; here they are the gateway's.
    const gatewayUrlFor = (path: string) => `http://127.0.0.1:${opts.port}${path}`;
    const lambdaFunctions = (s: LocalStack) =>
      [...s.functions.values()].map((f) => {
        const c = credentials.get(f.name)!;
        return {
          ...f,
          environment: {
            ...f.environment,
            ...(f.environment.OAUTH_REDIRECT_URL ? { OAUTH_REDIRECT_URL: gatewayUrlFor('/v1/oauth/callback') } : {}),
            ...opts.functionEnvironment,
            ...endpoints,
            AWS_ACCESS_KEY_ID: c.accessKeyId,
            AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
          },
        };
      });
    const lambda = new LambdaRuntime(lambdaFunctions(stack), { log: (fn, l) => log(fn, l) });
    track({ stop: () => lambda.stop() });

    const gateway = await startGateway({
      port: opts.port,
      restApiId: LOCAL_REST_API_ID,
      stage: stack.stageName,
      invoke: (fn, event, requestId) => lambda.invoke(fn, event, requestId),
      authorizeControl: (req) => iam.authorizeApiGateway(req),
      storefrontOrigins: stack.storefrontOrigins,
      log: (l) => log('gateway', l),
    });
    started.push(gateway);
    if (emulator && verifyWebhook) {
      await registerAppWebhook(emulator.url, app, webhookUrl, log);
      await ensureAppSecret(secretsManager.url, admin, stack, appConfig(app));
      writeFileSync(join(opts.dataDir, WEBHOOK_STATE_FILE), `${JSON.stringify({ url: webhookUrl })}\n`);
    }
    started.push(startSchedules(gateway.url, log, opts.scheduleEveryMs));

    // Lambda's event source mappings on the table's stream (the events functions).
    const streams = new StreamPoller({
      backendUrl: dynamodb.endpoint,
      tableName: stack.tableName,
      consumers: stack.streamConsumers,
      invoke: (fn, event) => lambda.invoke(fn, event, randomUUID()),
      authorize: (fn, action, arn) => iam.checkAs(fn, action, arn),
      checkpointFile: join(opts.dataDir, 'stream-checkpoints.json'),
      deadLetterFile: join(opts.dataDir, 'event-stream-dlq.jsonl'),
      log: (l) => log('streams', l),
    });
    streams.start();
    track({ stop: () => streams.stop() });
    if (opts.watch) {
      started.push(
        watchSources(async () => {
          const next = await buildFunctions({ log: (l) => log('build', l) });
          const s = localStack(next);
          iam.replacePrincipals(
            principalsOf(s, ensureCredentials(opts.dataDir, [...s.functions.keys(), 'ops', 'admin'])),
          );
          lambda.replace(lambdaFunctions(s));
          log('build', `reloaded ${s.functions.size} functions`);
        }, log),
      );
    }

    return {
      gatewayUrl: gateway.url,
      emulatorUrl: emulator?.url ?? '',
      dynamodbEndpoint: dynamodbEndpoint.url,
      secretsManagerUrl: secretsManager.url,
      dataDir: opts.dataDir,
      app,
      tableName: stack.tableName,
      appSecretId: stack.appSecretId,
      merchantSecretPrefix: stack.merchantSecretPrefix,
      stageName: stack.stageName,
      credentialsFile: join(opts.dataDir, CREDENTIALS_FILE),
      gateway,
      lambda,
      dynamodb,
      secretsManager,
      emulator,
      eventBridge,
      streams,
      stop: () => stopAll(started),
    };
  } catch (e) {
    await stopAll(started);
    throw e;
  }
}

/**
 * The EventBridge schedules of infra/schedules.ts, locally: the same functions, invoked through
 * the gateway's Lambda Invoke endpoint on the same periods.
 */
export const schedules = [
  { fn: 'reconciler', everyMs: 60_000 },
  { fn: 'token-refresher', everyMs: 5 * 60_000 },
  { fn: 'event-deliverer', everyMs: 60_000 },
] as const;

function startSchedules(
  gatewayUrl: string,
  log: (c: string, l: string) => void,
  overrides: PlatformOptions['scheduleEveryMs'] = {},
): { stop: () => Promise<void> } {
  const timers = schedules.map(({ fn, everyMs }) =>
    setInterval(() => {
      fetch(`${gatewayUrl}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', body: '{}' })
        .then(async (r) => log('schedule', `${fn} ${r.status} ${(await r.text()).slice(0, 200)}`))
        .catch((e: Error) => log('schedule', `${fn} failed: ${e.message}`));
    }, overrides[fn] ?? everyMs),
  );
  return { stop: async () => timers.forEach(clearInterval) };
}

/** Watch mode: a change under infra/, functions/ or shared/ rebuilds (debounced) and reloads. */
function watchSources(
  rebuild: () => Promise<void>,
  log: (c: string, l: string) => void,
): { stop: () => Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const trigger = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      running = running.then(rebuild).catch((e: Error) => log('build', `rebuild failed: ${e.message.split('\n')[0]}`));
    }, 300);
  };
  const watchers = ['infra', 'functions', 'shared'].map((d) => watch(join(repoRoot, d), { recursive: true }, trigger));
  log('build', 'watching infra/, functions/ and shared/ for changes');
  return {
    stop: async () => {
      clearTimeout(timer);
      for (const w of watchers) w.close();
      await running;
    },
  };
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

const WEBHOOK_STATE_FILE = 'app-webhook.json';

function readWebhookState(dataDir: string): { url: string } | null {
  const file = join(dataDir, WEBHOOK_STATE_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { url: string }) : null;
}

/**
 * The developer-dashboard step, against the emulator: register the app's webhook URL (with the
 * auth code Clover will put in X-Clover-Auth), and wait for the verification handshake the
 * emulator then sends to the webhooks function.
 */
async function registerAppWebhook(
  emulatorUrl: string,
  app: AppCredentials,
  webhookUrl: string,
  log: (c: string, l: string) => void,
): Promise<void> {
  const r = await fetch(`${emulatorUrl}/_emulator/apps`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: app.client_id,
      client_secret: app.client_secret,
      webhook_url: webhookUrl,
      webhook_auth_code: app.webhook_auth_code,
    }),
  });
  if (r.status !== 201) throw new PlatformError(`the Clover emulator refused the app's webhook URL: ${r.status}`);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const deliveries = (await (
      await fetch(`${emulatorUrl}/_emulator/app-webhooks?client_id=${encodeURIComponent(app.client_id)}`)
    ).json()) as { kind: string; status: number | null; error: string | null }[];
    const v = deliveries.filter((d) => d.kind === 'verification').at(-1);
    if (v && (v.status !== null || v.error !== null)) {
      log('clover', `app webhook verification ${v.status === 200 ? 'accepted' : `failed (${v.status ?? v.error})`}`);
      return;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  log('clover', 'app webhook verification: no answer in 15 s');
}

/** The emulator serves all of Clover's hosts on one port, by path (API.md §3). */
export function emulatorHosts(url: string): CloverHosts {
  return { api: url, oauth_authorize: url, token: url, scl: url, sdk_url: `${url}/sdk.js` };
}

/**
 * Writes the app secret, or a new version of it when the local ports changed since last time —
 * what an operator does after `cdk deploy` (docs/deploy.md), with the admin profile.
 */
async function ensureAppSecret(
  endpoint: string,
  admin: LocalCredential,
  stack: LocalStack,
  value: AppConfig,
): Promise<void> {
  const secretId = stack.appSecretId;
  const sm = new SecretsManagerClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: admin.accessKeyId, secretAccessKey: admin.secretAccessKey },
  });
  const text = JSON.stringify(value);
  try {
    const current = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (current.SecretString !== text) {
      await sm.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: text }));
    }
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
    await sm.send(new CreateSecretCommand({ Name: secretId, SecretString: text, KmsKeyId: stack.appSecretKmsKeyId }));
  }
}

/** `$DATA_DIR/platform.json`: where a running platform is, for the tools and the tests. */
export interface PlatformFile {
  gatewayUrl: string;
  eventBridgeUrl: string;
  emulatorUrl: string;
  dynamodbEndpoint: string;
  secretsManagerUrl: string;
  tableName: string;
  appSecretId: string;
  merchantSecretPrefix: string;
  restApiId: string;
  stageName: string;
  credentialsFile: string;
  pid: number;
}

export function writePlatformFile(p: Platform): void {
  const info: PlatformFile = {
    gatewayUrl: p.gatewayUrl,
    eventBridgeUrl: p.eventBridge.url,
    emulatorUrl: p.emulatorUrl,
    dynamodbEndpoint: p.dynamodbEndpoint,
    secretsManagerUrl: p.secretsManagerUrl,
    tableName: p.tableName,
    appSecretId: p.appSecretId,
    merchantSecretPrefix: p.merchantSecretPrefix,
    restApiId: LOCAL_REST_API_ID,
    stageName: p.stageName,
    credentialsFile: p.credentialsFile,
    pid: process.pid,
  };
  writeFileSync(join(p.dataDir, 'platform.json'), `${JSON.stringify(info, null, 2)}\n`);
}

export function readPlatformFile(dataDir: string): PlatformFile | null {
  const file = join(dataDir, 'platform.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PlatformFile) : null;
}

/**
 * What the functions of this platform get in common (endpoints, the stack's names, Clover's hosts),
 * with the admin profile's keys: for benchmarks that call handler modules in their own process.
 */
export function sharedFunctionEnvironment(p: Platform): Record<string, string> {
  const charges = p.lambda.environmentOf('charges');
  const admin = readProfile(p.dataDir, 'admin');
  const pick = (k: string) => (charges?.[k] === undefined ? {} : { [k]: charges[k] });
  return {
    AWS_REGION: 'us-east-1',
    ...pick('AWS_ENDPOINT_URL_DYNAMODB'),
    ...pick('AWS_ENDPOINT_URL_SECRETS_MANAGER'),
    ...pick('AWS_ENDPOINT_URL_API_GATEWAY'),
    ...pick('CLOVER_HOSTS_JSON'),
    ...pick('CLOVER_ENVIRONMENT'),
    ...pick('TABLE_NAME'),
    ...pick('APP_SECRET_ID'),
    ...pick('MERCHANT_SECRET_PREFIX'),
    REST_API_ID: LOCAL_REST_API_ID,
    STAGE_NAME: p.stageName,
    AWS_ACCESS_KEY_ID: admin.accessKeyId,
    AWS_SECRET_ACCESS_KEY: admin.secretAccessKey,
  };
}

/**
 * What an operator's tool needs in its environment to act on this platform (the demo merchant's
 * keys, `npm run keys`): the endpoints, the stack's names, and the `ops` profile's keys.
 */
export function operatorEnvironment(p: Platform): Record<string, string> {
  const ops = readProfile(p.dataDir, 'ops');
  return {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: ops.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ops.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: p.dynamodbEndpoint,
    AWS_ENDPOINT_URL_API_GATEWAY: p.gatewayUrl,
    TABLE_NAME: p.tableName,
    REST_API_ID: LOCAL_REST_API_ID,
    STAGE_NAME: p.stageName,
  };
}
