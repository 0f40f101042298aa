/**
 * Phase 2: warm overhead. The charge, tokenize and checkout-config handlers (functions/*\/index.ts,
 * imported in this process) are called directly with API Gateway events against the in-process
 * platform, interleaved with the same Clover call made directly. Our cost per request is
 * handler time − direct Clover time, at p50 and p99. The DynamoDB round trips inside the handler
 * are timed too (an SDK middleware on the shared client), so that the report can tell our CPU
 * from DynamoDB Local's latency.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { lambdaContext } from '../local/gateway';
import { dynamo } from '../shared/aws';
import { authorizerEvent, proxyEvent, TEST_CARD } from './events';
import { type BenchMerchant, directClover, makeTokens } from './setup';
import { percentile } from './stats';

type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface WarmRow {
  readonly op: 'charge' | 'tokenize' | 'checkout-config' | 'authorizer';
  readonly fn: string;
  readonly n: number;
  readonly handlerP50: number;
  readonly handlerP99: number;
  /** The same Clover call made directly (0 when the operation makes none). */
  readonly directP50: number;
  readonly directP99: number;
  /** handler p50 − direct p50, and handler p99 − direct p50. */
  readonly overheadP50: number;
  readonly overheadP99: number;
  /** DynamoDB round-trip time per handler call, p50 (HTTP to DynamoDB Local and back, all calls summed). */
  readonly dynamoMsPerCall: number;
  /** p50 of (handler − its DynamoDB round trips) − direct p50: our CPU and event-loop time. */
  readonly overheadExDynamoP50: number;
  readonly errors: number;
}

let dynamoMs = 0;
let dynamoCalls = 0;
let timingInstalled = false;
/** DynamoDB round trips made through shared/aws.ts's client in this process so far. */
export const dynamoStats = () => ({ ms: dynamoMs, calls: dynamoCalls });
/** Times the raw HTTP exchange of every DynamoDB call made through shared/aws.ts's client. */
export function installDynamoTiming(): void {
  if (timingInstalled) return;
  timingInstalled = true;
  dynamo.middlewareStack.add(
    (next) => async (args) => {
      const t = performance.now();
      try {
        return await next(args);
      } finally {
        dynamoMs += performance.now() - t;
        dynamoCalls++;
      }
    },
    { step: 'deserialize', priority: 'low', name: 'benchDynamoTiming' },
  );
  if (process.env.BENCH_DEBUG) {
    dynamo.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } catch (e) {
          const err = e as { name?: string; CancellationReasons?: unknown };
          console.error('bench debug: DynamoDB error', err.name, JSON.stringify(err.CancellationReasons ?? null));
          throw e;
        }
      },
      { step: 'initialize', name: 'benchDebug' },
    );
  }
}

interface Sample {
  handler: number;
  direct: number;
  dynamo: number;
  ok: boolean;
}

async function measure(
  n: number,
  warmup: number,
  prepare: () => Promise<{ handler: () => Promise<boolean>; direct: (() => Promise<void>) | null }>,
): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const step = await prepare();
    let handler = 0;
    let direct = 0;
    let dyn = 0;
    let ok = true;
    const runHandler = async () => {
      const d0 = dynamoMs;
      const t0 = performance.now();
      ok = await step.handler();
      handler = performance.now() - t0;
      dyn = dynamoMs - d0;
    };
    const runDirect = async () => {
      if (!step.direct) return;
      const t0 = performance.now();
      await step.direct();
      direct = performance.now() - t0;
    };
    // Alternate the order, so that neither call always runs on a just-warmed connection.
    if (i % 2 === 0) {
      await runHandler();
      await runDirect();
    } else {
      await runDirect();
      await runHandler();
    }
    if (i >= warmup) out.push({ handler, direct, dynamo: dyn, ok });
  }
  return out;
}

function row(op: WarmRow['op'], fn: string, samples: Sample[]): WarmRow {
  const h = samples.map((s) => s.handler);
  const d = samples.map((s) => s.direct);
  const handlerP50 = percentile(h, 50);
  const handlerP99 = percentile(h, 99);
  const directP50 = percentile(d, 50);
  const directP99 = percentile(d, 99);
  const dynamoPerCall = percentile(
    samples.map((s) => s.dynamo),
    50,
  );
  return {
    op,
    fn,
    n: samples.length,
    handlerP50,
    handlerP99,
    directP50,
    directP99,
    overheadP50: handlerP50 - directP50,
    // The tail of our handler over a typical Clover call (a difference of two p99s would mix two tails).
    overheadP99: handlerP99 - directP50,
    dynamoMsPerCall: dynamoPerCall,
    overheadExDynamoP50:
      percentile(
        samples.map((s) => s.handler - s.dynamo),
        50,
      ) - directP50,
    errors: samples.filter((s) => !s.ok).length,
  };
}

export async function measureWarm(opts: {
  emulatorUrl: string;
  merchant: BenchMerchant;
  n: number;
  warmup: number;
  progress: (line: string) => void;
}): Promise<WarmRow[]> {
  installDynamoTiming();
  const m = opts.merchant;
  const clover = directClover(opts.emulatorUrl);
  const load = async (fn: string) => (await import(`../functions/${fn}/index.ts`)).handler as ProxyHandler;
  const call = async (fn: ProxyHandler, name: string, event: APIGatewayProxyEvent, expect: number) => {
    const r = await fn(event, lambdaContext(name, event.requestContext.requestId));
    return r.statusCode === expect;
  };
  const rows: WarmRow[] = [];
  const total = opts.n + opts.warmup;

  // checkout-config: no Clover call; warm, it reads nothing (the merchant is cached).
  const checkoutConfig = await load('checkout-config');
  const ccSamples = await measure(opts.n, opts.warmup, async () => ({
    handler: () =>
      call(
        checkoutConfig,
        'checkout-config',
        proxyEvent({ method: 'GET', resource: '/v1/checkout-config', caller: m.publishable }),
        200,
      ),
    direct: null,
  }));
  rows.push(row('checkout-config', 'checkout-config', ccSamples));
  opts.progress(`warm: checkout-config ×${total}`);

  // tokenize: POST /v1/tokens → Clover's token host.
  const tokens = await load('tokens');
  const tkSamples = await measure(opts.n, opts.warmup, async () => ({
    handler: () =>
      call(
        tokens,
        'tokens',
        proxyEvent({ method: 'POST', resource: '/v1/tokens', body: { card: TEST_CARD }, caller: m.publishable }),
        201,
      ),
    direct: async () => {
      await clover.token(m.pakmsKey);
    },
  }));
  rows.push(row('tokenize', 'tokens', tkSamples));
  opts.progress(`warm: tokenize ×${total} (+ as many direct token calls)`);

  // charge: POST /v1/charges → claim transaction, Clover charge, outcome transaction.
  const pool = await makeTokens(opts.emulatorUrl, m.pakmsKey, 2 * total);
  const charges = await load('charges');
  const chSamples = await measure(opts.n, opts.warmup, async () => {
    const a = pool.pop()!;
    const b = pool.pop()!;
    return {
      handler: () =>
        call(
          charges,
          'charges',
          proxyEvent({
            method: 'POST',
            resource: '/v1/charges',
            body: { source: a, amount: 1099, currency: 'usd' },
            idempotencyKey: randomUUID(),
            caller: m.secret,
          }),
          201,
        ),
      direct: () => clover.charge(m.accessToken, b),
    };
  });
  rows.push(row('charge', 'charges', chSamples));
  opts.progress(`warm: charge ×${total} (+ as many direct charges)`);

  // The authorizer on an API Gateway cache miss (for the cost model): API key + merchant GetItem.
  const authorizer = (await import('../functions/authorizer/index')).handler as (
    e: unknown,
    c: Context,
  ) => Promise<APIGatewayAuthorizerResult>;
  const azN = Math.min(opts.n, 100);
  const azSamples = await measure(azN, Math.min(opts.warmup, 10), async () => ({
    handler: async () => {
      const e = authorizerEvent({ method: 'POST', resource: '/v1/charges' }, m.secret.key);
      const r = await authorizer(e, lambdaContext('authorizer', randomUUID()));
      return r.principalId === m.merchantId;
    },
    direct: null,
  }));
  rows.push(row('authorizer', 'authorizer', azSamples));
  opts.progress(`warm: authorizer (cache miss) ×${azN + Math.min(opts.warmup, 10)}`);
  return rows;
}
