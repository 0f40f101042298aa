/**
 * The in-process local platform for phases 2–4: startPlatform on free ports with a temporary
 * DATA_DIR (on tmpfs when /dev/shm exists), the Clover emulator with rate limits off (its default
 * is Clover's 16 requests/s per token) and no faults, and merchants onboarded through the real
 * install flow with their API keys.
 *
 * By default the emulator is a memory-only instance of local/clover-emulator started here (the
 * platform runs with CLOVER_ENV=sandbox and CLOVER_HOSTS_JSON pointing at it): the platform's own
 * emulator rewrites its whole state as JSON to $DATA_DIR 50 ms after every change, a cost that
 * grows with every token and charge and lands on the same event loop as the handlers — the
 * emulator's cost, not ours. `--persistent-emulator` uses the platform's own emulator instead.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startCloverEmulator } from '../local/clover-emulator/index';
import { readProfile } from '../local/credentials';
import { onboardMerchant } from '../local/demo-merchant';
import {
  cloverStyleId,
  emulatorHosts,
  type Platform,
  sharedFunctionEnvironment,
  startPlatform,
} from '../local/platform';
import { freePort } from '../local/ports';
import { CloverHttp } from '../shared/clover/client';
import { createApiKey } from '../shared/store/api-keys';
import { getMerchant } from '../shared/store/merchants';
import { type Caller, TEST_CARD } from './events';

export interface BenchMerchant {
  readonly merchantId: string;
  readonly pakmsKey: string;
  readonly accessToken: string;
  readonly publishable: Caller;
  readonly secret: Caller;
}

export interface BenchPlatform {
  readonly platform: Platform;
  /** The emulator the handlers talk to (the platform's own, or the memory-only one). */
  readonly emulatorUrl: string;
  readonly persistentEmulator: boolean;
  readonly dataDir: string;
  /** When startPlatform returned: its schedules (reconciler every 60 s) count from here. */
  readonly startedAt: number;
  stop(): Promise<void>;
}

export async function startBenchPlatform(opts: { persistentEmulator: boolean }): Promise<BenchPlatform> {
  const root = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dataDir = mkdtempSync(join(root, 'clover-bench-'));
  const [port, emulatorPort, dynamodbPort, secretsManagerPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  let emulator: Awaited<ReturnType<typeof startCloverEmulator>> | null = null;
  if (!opts.persistentEmulator) {
    const app = { client_id: cloverStyleId(), client_secret: randomUUID().replace(/-/g, '') };
    emulator = await startCloverEmulator({ port: emulatorPort, dataFile: null, apps: [app] });
    process.env.CLOVER_CLIENT_ID = app.client_id;
    process.env.CLOVER_CLIENT_SECRET = app.client_secret;
    process.env.CLOVER_WEBHOOK_AUTH_CODE = randomUUID();
  }
  let platform: Platform;
  try {
    platform = await startPlatform({
      port,
      emulatorPort,
      dynamodbPort,
      secretsManagerPort,
      dataDir,
      cloverEnv: opts.persistentEmulator ? 'emulator' : 'sandbox',
      // The bench's own emulator stands in for Clover's sandbox hosts.
      functionEnvironment: emulator ? { CLOVER_HOSTS_JSON: JSON.stringify(emulatorHosts(emulator.url)) } : undefined,
    });
  } catch (e) {
    await emulator?.close();
    throw e;
  }
  const emulatorUrl = emulator?.url ?? platform.emulatorUrl;
  // Handlers the bench calls in its own process see what the platform's functions see.
  Object.assign(process.env, sharedFunctionEnvironment(platform));
  const startedAt = Date.now();
  const r = await fetch(`${emulatorUrl}/_emulator/config`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ rate_limits: false }),
  });
  if (r.status !== 200) throw new Error(`emulator config: ${r.status} ${await r.text()}`);
  await fetch(`${emulatorUrl}/_emulator/faults`, { method: 'DELETE' });
  let stopped = false;
  return {
    platform,
    emulatorUrl,
    persistentEmulator: opts.persistentEmulator,
    dataDir,
    startedAt,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await platform.stop();
      await emulator?.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A merchant installs the app (emulator authorize → our OAuth callback), then gets a pk_ and an sk_ key. */
export async function newMerchant(b: BenchPlatform): Promise<BenchMerchant> {
  const p = b.platform;
  const merchantId = await onboardMerchant({
    gatewayUrl: p.gatewayUrl,
    emulatorUrl: b.emulatorUrl,
    clientId: p.app.client_id,
  });
  const [pk, sk] = await Promise.all([
    createApiKey(merchantId, 'publishable', 'test'),
    createApiKey(merchantId, 'secret', 'test'),
  ]);
  const record = await getMerchant(merchantId, true);
  if (!record?.pakms_key) throw new Error(`merchant ${merchantId} has no PAKMS key after onboarding`);
  const sm = new SecretsManagerClient({
    endpoint: p.secretsManagerUrl,
    region: 'us-east-1',
    credentials: readProfile(p.dataDir, 'admin'),
  });
  const secret = await sm.send(
    new GetSecretValueCommand({ SecretId: `${process.env.MERCHANT_SECRET_PREFIX ?? ''}${merchantId}` }),
  );
  sm.destroy();
  const accessToken = (JSON.parse(secret.SecretString ?? '{}') as { access_token?: string }).access_token;
  if (!accessToken) throw new Error(`merchant ${merchantId} has no OAuth access token`);
  return {
    merchantId,
    pakmsKey: record.pakms_key,
    accessToken,
    publishable: { merchantId, kind: 'publishable', key: pk.key, keyId: pk.record.key_id },
    secret: { merchantId, kind: 'secret', key: sk.key, keyId: sk.record.key_id },
  };
}

/**
 * The Clover calls our handlers make, made directly with the same client (shared/clover/client.ts:
 * fetch, JSON, timeout signal), so that handler time − direct time is our own cost.
 */
export function directClover(emulatorUrl: string) {
  const http = new CloverHttp({ timeoutMs: 8000 });
  return {
    /** POST /v1/tokens with the PAKMS key, as shared/tokenize.ts sends it. */
    async token(pakmsKey: string): Promise<string> {
      const r = await http.send<{ id?: string }>({
        method: 'POST',
        url: `${emulatorUrl}/v1/tokens`,
        headers: { apikey: pakmsKey },
        body: { card: { ...TEST_CARD, brand: 'VISA' } },
      });
      if (r.kind !== 'ok' || typeof r.body.id !== 'string') throw new Error(`emulator token: ${JSON.stringify(r)}`);
      return r.body.id;
    },
    /** POST /v1/charges with the OAuth token, as shared/clover/scl.ts sends it. */
    async charge(accessToken: string, source: string, amount = 1099): Promise<void> {
      const r = await http.send({
        method: 'POST',
        url: `${emulatorUrl}/v1/charges`,
        headers: {
          Authorization: `Bearer ${accessToken}`,
          'idempotency-key': randomUUID(),
          'x-forwarded-for': '127.0.0.1',
        },
        body: { amount, currency: 'usd', source, capture: true },
      });
      if (r.kind !== 'ok') throw new Error(`emulator charge: ${JSON.stringify(r)}`);
    },
  };
}

/** Makes `n` card tokens at the emulator, `concurrency` at a time (not timed: setup only). */
export async function makeTokens(emulatorUrl: string, pakmsKey: string, n: number, concurrency = 8): Promise<string[]> {
  const clover = directClover(emulatorUrl);
  const out: string[] = [];
  let left = n;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left--;
        out.push(await clover.token(pakmsKey));
      }
    }),
  );
  return out;
}

/** The pid of the DynamoDB Local JVM the platform started on `dataDir` (found by its -dbPath), or null. */
export function dynamoDbLocalPid(dataDir: string): number | null {
  const needle = join(dataDir, 'dynamodb');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('java') && cmd.includes(needle)) return Number(entry);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return null;
}

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat (100 ticks/s). */
export function processCpuMs(pid: number | null): number {
  if (pid === null) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}
