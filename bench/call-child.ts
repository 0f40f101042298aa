/**
 * Phase 3, one fresh "container": a new process imports a deployed bundle (its module caches are
 * empty, as after a Lambda cold start), then calls its handler once (cold) and a few more times
 * (warm), counting what each call makes AT THE ENDPOINTS:
 *  - DynamoDB and Secrets Manager through counting proxies started in this process, in front of
 *    the platform's DynamoDB Local and Secrets Manager endpoint (AWS_ENDPOINT_URL_* point at them);
 *  - Clover from the emulator's request log, filtered by this merchant.
 * Spawned by bench/counts.ts with the spec in BENCH_CALL_SPEC; prints one `BENCH_RESULT {json}` line.
 */
import { pathToFileURL } from 'node:url';
import { lambdaContext } from '../local/gateway';
import { type Counts, diffCounts, startCountingProxy } from './proxy';

export interface CallSpec {
  readonly bundlePath: string;
  readonly fn: string;
  readonly merchantId: string;
  readonly emulatorUrl: string;
  readonly dynamodbEndpoint: string;
  readonly secretsManagerEndpoint: string;
  /** Events, in order; the first call is the cold one. */
  readonly events: unknown[];
}

export interface CallResult {
  readonly ms: number;
  readonly status: string;
  readonly dynamo: Counts;
  readonly secrets: Counts;
  readonly clover: number;
  readonly cloverPaths: string[];
}

async function cloverLog(url: string, merchantId: string): Promise<string[]> {
  const r = await fetch(`${url}/_emulator/requests`);
  const all = (await r.json()) as { method: string; path: string; merchant_id: string | null }[];
  return all.filter((e) => e.merchant_id === merchantId).map((e) => `${e.method} ${e.path}`);
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_CALL_SPEC ?? '{}') as CallSpec;
  const ddb = await startCountingProxy({ target: spec.dynamodbEndpoint, service: 'dynamodb' });
  const sm = await startCountingProxy({ target: spec.secretsManagerEndpoint, service: 'secretsmanager' });
  process.env.AWS_ENDPOINT_URL_DYNAMODB = ddb.url;
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = sm.url;
  const importStarted = performance.now();
  const mod = (await import(pathToFileURL(spec.bundlePath).href)) as {
    handler: (e: unknown, c: unknown) => Promise<unknown>;
  };
  const importMs = performance.now() - importStarted;
  const results: CallResult[] = [];
  for (const [i, event] of spec.events.entries()) {
    const d0 = ddb.snapshot();
    const s0 = sm.snapshot();
    const c0 = await cloverLog(spec.emulatorUrl, spec.merchantId);
    const t0 = performance.now();
    let status: string;
    try {
      const r = (await mod.handler(event, lambdaContext(spec.fn, `bench-${i}`))) as {
        statusCode?: number;
        principalId?: string;
      };
      status = r.statusCode !== undefined ? String(r.statusCode) : r.principalId ? 'allow' : 'ok';
    } catch (e) {
      status = `threw ${(e as Error)?.message ?? e}`;
    }
    const ms = performance.now() - t0;
    const c1 = await cloverLog(spec.emulatorUrl, spec.merchantId);
    results.push({
      ms,
      status,
      dynamo: diffCounts(d0, ddb.snapshot()),
      secrets: diffCounts(s0, sm.snapshot()),
      clover: c1.length - c0.length,
      cloverPaths: c1.slice(c0.length),
    });
  }
  await ddb.close();
  await sm.close();
  process.stdout.write(`\nBENCH_RESULT ${JSON.stringify({ importMs, results })}\n`);
  process.exit(0);
}

main().catch((e) => {
  process.stdout.write(`\nBENCH_RESULT ${JSON.stringify({ error: String((e as Error)?.stack ?? e) })}\n`);
  process.exit(1);
});
