/**
 * The reliability suite's platform: the real local platform (local/platform.ts) started in this
 * process, on free ports and a temporary DATA_DIR, so that the tests hold its handles (DynamoDB
 * stop/start, Secrets Manager faults). Everything the platform prints — handler logs (Powertools
 * writes to process.stdout), gateway, emulator and Secrets Manager lines — is captured for the
 * leak scan and written to reports/reliability-platform.log.
 *
 * Requests go over real HTTP to the gateway through one keep-alive agent (node:http, so that
 * duplicate headers and raw bytes reach the wire as sent), and each is counted on the scenario
 * that is running (see ./summary.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { readProfile } from '../../local/credentials';
import { authorizeRedirect } from '../../local/demo-merchant';
import { operatorEnvironment, type Platform, startPlatform } from '../../local/platform';
import { freePort } from '../../local/ports';
import { createApiKey } from '../../shared/store/api-keys';
import { recordResponse } from './summary';

/** Per Clover call (shared/config.ts); slow faults are made longer than this. */
export const CLOVER_TIMEOUT_MS = 2000;

/** Everything the platform wrote, in order, with marks so that a scenario can take its own part. */
export class OutputCapture {
  private readonly chunks: string[] = [];
  private restore: (() => void) | null = null;

  add(text: string): void {
    this.chunks.push(text);
  }

  mark(): number {
    return this.chunks.length;
  }

  since(mark: number): string {
    return this.chunks.slice(mark).join('');
  }

  all(): string {
    return this.chunks.join('');
  }

  /** Takes over process.stdout/stderr writes (the handlers' Powertools logs) until `uninstall`. */
  install(echo: boolean): void {
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    const wrap =
      (original: typeof process.stdout.write) =>
      (chunk: unknown, ...rest: unknown[]): boolean => {
        this.add(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
        if (echo) return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
        const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        cb?.();
        return true;
      };
    process.stdout.write = wrap(out) as typeof process.stdout.write;
    process.stderr.write = wrap(err) as typeof process.stderr.write;
    // The AWS SDK warns through console; the test runner owns console, so tee it.
    const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const originals = methods.map((k) => console[k]);
    for (const k of methods) {
      const original = console[k];
      console[k] = (...args: unknown[]) => {
        this.add(`${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
        if (echo) original(...args);
      };
    }
    this.restore = () => {
      process.stdout.write = out;
      process.stderr.write = err;
      methods.forEach((k, i) => {
        console[k] = originals[i]!;
      });
    };
  }

  uninstall(): void {
    this.restore?.();
    this.restore = null;
  }
}

export interface Merchant {
  merchant_id: string;
  publishable_key: string;
  secret_key: string;
}

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: any;
}

export interface Harness {
  platform: Platform;
  output: OutputCapture;
  dataDir: string;
  ddb: DynamoDBDocumentClient;
  sm: SecretsManagerClient;
  stop(): Promise<void>;
}

let current: Harness | null = null;
/** Keep-alive; wide enough for the concurrency bursts (the fuzz keeps itself to 8 at a time). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

export function harness(): Harness {
  if (!current) throw new Error('the reliability platform is not started');
  return current;
}

export async function startHarness(): Promise<Harness> {
  const output = new OutputCapture();
  output.install(process.env.RELIABILITY_ECHO === '1');
  const [port, emulatorPort, dynamodbPort, secretsManagerPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const dataDir = mkdtempSync(join(tmpdir(), 'cpf-reliability-'));
  const platform = await startPlatform({
    // The functions' configuration, changed as an operator would change it after a deploy: a
    // shorter Clover timeout, and the most the handlers ever log (the leak scan should see it all).
    // Webhook retries 200× faster (docs/events.md), so that the events scenario sees them through.
    functionEnvironment: {
      CLOVER_TIMEOUT_MS: String(CLOVER_TIMEOUT_MS),
      LOG_LEVEL: 'DEBUG',
      EVENTS_RETRY_SCALE: '0.005',
      // The emulator's lists do not lag here (no list_lag_ms): a lookup that finds nothing may
      // count as settled a second after the last send, not after production's 60 s.
      CLOVER_LIST_SETTLE_MS: '1000',
    },
    scheduleEveryMs: { 'event-deliverer': 250 },
    port,
    emulatorPort,
    dynamodbPort,
    secretsManagerPort,
    dataDir,
    cloverEnv: 'emulator',
    log: (component, line) => output.add(`[${component}] ${line}\n`),
  });
  // In-process tools of the tests (API keys, as `npm run keys` makes them) act as the operator.
  Object.assign(process.env, operatorEnvironment(platform));
  const creds = readProfile(dataDir, 'admin');
  const ddb = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: platform.dynamodbEndpoint, region: 'us-east-1', credentials: creds }),
  );
  const sm = new SecretsManagerClient({
    endpoint: platform.secretsManagerUrl,
    region: 'us-east-1',
    credentials: creds,
  });
  current = {
    platform,
    output,
    dataDir,
    ddb,
    sm,
    stop: async () => {
      await platform.stop();
      agent.destroy();
      output.uninstall();
      mkdirSync('reports', { recursive: true });
      writeFileSync('reports/reliability-platform.log', output.all());
      rmSync(dataDir, { recursive: true, force: true });
      current = null;
    },
  };
  return current;
}

export interface RequestOptions {
  key?: string;
  idem?: string;
  body?: unknown;
  /** Sent as is (a string or raw bytes), instead of `body`. */
  raw?: string | Buffer;
  /** Header values; an array sends the header once per value. */
  headers?: Record<string, string | string[]>;
  /** With a body: the Content-Type to send (default application/json), or false for none. */
  contentType?: string | false;
  timeoutMs?: number;
}

/** One request to the gateway; the path is sent exactly as given (already encoded). */
export function api(method: string, path: string, opts: RequestOptions = {}): Promise<Res> {
  const url = new URL(harness().platform.gatewayUrl);
  const headers: Record<string, string | string[]> = {};
  if (opts.key) headers.Authorization = `Bearer ${opts.key}`;
  if (opts.idem !== undefined) headers['Idempotency-Key'] = opts.idem;
  let payload: Buffer | undefined;
  if (opts.raw !== undefined) payload = Buffer.isBuffer(opts.raw) ? opts.raw : Buffer.from(opts.raw, 'utf8');
  else if (opts.body !== undefined) payload = Buffer.from(JSON.stringify(opts.body), 'utf8');
  if (payload !== undefined && opts.contentType !== false) {
    headers['Content-Type'] = opts.contentType ?? 'application/json';
  }
  Object.assign(headers, opts.headers);
  if (payload !== undefined) headers['Content-Length'] = String(payload.length);
  return new Promise<Res>((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method, path, headers, agent, timeout: opts.timeoutMs ?? 60_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any;
          try {
            body = text ? JSON.parse(text) : {};
          } catch {
            body = { text };
          }
          const r: Res = { status: res.statusCode ?? 0, headers: res.headers, text, body };
          recordResponse(r);
          resolve(r);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** The emulator's control surface (and, with a bearer, its Clover API). */
export async function emulator<T = any>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const r = await fetch(`${harness().platform.emulatorUrl}${path}`, {
    method,
    headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

export async function setFault(fault: Record<string, unknown>): Promise<void> {
  const r = await emulator('POST', '/_emulator/faults', { times: 1, ...fault });
  if (r.status !== 201) throw new Error(`fault refused: ${JSON.stringify(r.body)}`);
}

export const clearFaults = () => emulator('DELETE', '/_emulator/faults');

export interface LoggedRequest {
  method: string;
  path: string;
  merchant_id: string | null;
  headers: Record<string, string>;
  body: any;
  at: string;
}

export async function cloverRequests(prefix = '/'): Promise<LoggedRequest[]> {
  return (await emulator<LoggedRequest[]>('GET', `/_emulator/requests?path=${encodeURIComponent(prefix)}`)).body;
}

/** The charges Clover actually made for a merchant (declined ones included), newest first. */
export async function cloverCharges(merchantId: string): Promise<Record<string, any>[]> {
  return (await emulator('GET', `/_emulator/charges?merchant_id=${merchantId}`)).body;
}

/** Invokes the reconciler through the gateway's Lambda Invoke endpoint, with no grace period. */
export async function reconcile(): Promise<Record<string, number>> {
  const r = await fetch(`${harness().platform.gatewayUrl}/2015-03-31/functions/reconciler/invocations`, {
    method: 'POST',
    body: JSON.stringify({ grace_ms: 0 }),
  });
  return (await r.json()) as Record<string, number>;
}

/** Every item of one merchant's partition whose sort key starts with `prefix`. */
export async function merchantItems(merchantId: string, prefix: string): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const r = await harness().ddb.send(
      new QueryCommand({
        TableName: harness().platform.tableName,
        ...(prefix
          ? {
              KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
              ExpressionAttributeValues: { ':p': `MERCHANT#${merchantId}`, ':s': prefix },
            }
          : { KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': `MERCHANT#${merchantId}` } }),
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    out.push(...(r.Items ?? []));
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}

export async function allItems(): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const r = await harness().ddb.send(
      new ScanCommand({ TableName: harness().platform.tableName, ExclusiveStartKey: start }),
    );
    out.push(...(r.Items ?? []));
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}

/** Every secret's current value, those scheduled for deletion included where they can be read. */
export async function allSecretValues(): Promise<string[]> {
  const sm = harness().sm;
  const out: string[] = [];
  let next: string | undefined;
  do {
    const list = await sm.send(
      new ListSecretsCommand({ MaxResults: 100, NextToken: next, IncludePlannedDeletion: true }),
    );
    for (const s of list.SecretList ?? []) {
      try {
        out.push((await sm.send(new GetSecretValueCommand({ SecretId: s.ARN! }))).SecretString ?? '');
      } catch {
        // scheduled for deletion: not readable
      }
    }
    next = list.NextToken;
  } while (next);
  return out;
}

/** A merchant's OAuth access token, from its secret (to hold a Clover rate-limit slot in tests). */
export async function merchantAccessToken(merchantId: string): Promise<string> {
  const v = await harness().sm.send(
    new GetSecretValueCommand({ SecretId: `${harness().platform.merchantSecretPrefix}${merchantId}` }),
  );
  return JSON.parse(v.SecretString ?? '{}').access_token;
}

/** Clover's install redirect for an emulator merchant: the callback URL (path + query) with a fresh code. */
export async function installCallbackPath(merchantId: string): Promise<string> {
  const p = harness().platform;
  const location = await authorizeRedirect(
    { gatewayUrl: p.gatewayUrl, emulatorUrl: p.emulatorUrl, clientId: p.app.client_id },
    merchantId,
  );
  const u = new URL(location);
  return `${u.pathname}${u.search}`;
}

/** A new emulator merchant that has not installed the app yet. */
export async function newCloverMerchant(): Promise<string> {
  const r = await emulator<{ merchant_id: string }>('POST', '/_emulator/merchants');
  if (r.status !== 201) throw new Error(`emulator merchant: ${r.status}`);
  return r.body.merchant_id;
}

/** Installs the app (the real callback) and makes the merchant's keys. */
export async function onboard(merchantId?: string): Promise<Merchant> {
  const id = merchantId ?? (await newCloverMerchant());
  const cb = await api('GET', await installCallbackPath(id));
  if (cb.status !== 200) throw new Error(`install of ${id}: ${cb.status} ${cb.text}`);
  const [pk, sk] = await Promise.all([createApiKey(id, 'publishable', 'test'), createApiKey(id, 'secret', 'test')]);
  return { merchant_id: id, publishable_key: pk.key, secret_key: sk.key };
}

export const newKey = () => randomUUID();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sandbox cards (clover-api.md §8) and the distinctive CVVs the leak scan looks for. */
export const CARDS = {
  visa: '4242424242424242',
  amex: '378282246310005',
  visa2: '4000056655665556',
  decline: '4005571702222222',
} as const;
export const CVV = { visa: '739', amex: '7391' } as const;
export const expYear = () => String(new Date().getUTCFullYear() + 3);

/** A `clv_` token through our own POST /v1/tokens; retries Clover's rate limiting. */
export async function token(m: Merchant, number: string = CARDS.visa): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const r = await api('POST', '/v1/tokens', {
      key: m.publishable_key,
      body: {
        card: { number, exp_month: '12', exp_year: expYear(), cvv: number.startsWith('3') ? CVV.amex : CVV.visa },
      },
    });
    if (r.status === 201) return r.body.id as string;
    if (r.status !== 429 || attempt >= 10) throw new Error(`tokenize failed: ${r.status} ${r.text}`);
    await sleep(1000);
  }
}

/** Sends a request again while it is answered 409 in progress or 429, as a careful client does. */
export async function untilSettled(send: () => Promise<Res>, attempts = 15): Promise<Res> {
  let r = await send();
  for (let i = 0; i < attempts && (r.status === 429 || r.status === 409); i++) {
    if (r.status === 409 && !r.headers['retry-after']) return r;
    await sleep(Number(r.headers['retry-after'] ?? 1) * 1000);
    r = await send();
  }
  return r;
}
