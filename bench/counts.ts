/**
 * Phase 3: calls per operation, cold and warm, counted at the endpoints (see call-child.ts). One
 * fresh child process per operation, on a merchant of its own so that the emulator's request log
 * holds nothing else for it.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';
import type { DeployedFunction } from '../local/build';
import { literalEnvironment, repoRoot } from '../local/build';
import { lambdaContext } from '../local/gateway';
import type { CallResult, CallSpec } from './call-child';
import { authorizerEvent, proxyEvent, TEST_CARD } from './events';
import { emptyCounts } from './proxy';
import { type BenchMerchant, makeTokens } from './setup';

export type CountedOp = 'charge' | 'refund' | 'tokenize' | 'checkout-config' | 'authorizer';

export interface OpCounts {
  readonly op: CountedOp;
  readonly fn: string;
  readonly cold: CallResult;
  /** The warm calls after the cold one (same container). */
  readonly warm: CallResult[];
  /** Per counter, the largest value over the warm calls. */
  readonly warmMax: Summary;
  readonly coldSummary: Summary;
  readonly importMs: number;
  readonly error: string | null;
}

export interface Summary {
  readonly dynamoWrites: number;
  readonly dynamoReads: number;
  readonly dynamoWriteUnits: number;
  readonly dynamoReadUnits: number;
  readonly dynamoOps: Record<string, number>;
  readonly secretsCalls: number;
  readonly cloverCalls: number;
  readonly status: string;
  readonly ms: number;
}

export function summarize(r: CallResult): Summary {
  return {
    dynamoWrites: r.dynamo.writes,
    dynamoReads: r.dynamo.reads,
    dynamoWriteUnits: r.dynamo.writeUnits,
    dynamoReadUnits: r.dynamo.readUnits,
    dynamoOps: r.dynamo.ops,
    secretsCalls: r.secrets.total,
    cloverCalls: r.clover,
    status: r.status,
    ms: r.ms,
  };
}

function maxSummary(rs: CallResult[]): Summary {
  const s = rs.map(summarize);
  const max = (f: (x: Summary) => number) => Math.max(...s.map(f));
  const ops: Record<string, number> = {};
  for (const x of s) for (const [k, v] of Object.entries(x.dynamoOps)) ops[k] = Math.max(ops[k] ?? 0, v);
  return {
    dynamoWrites: max((x) => x.dynamoWrites),
    dynamoReads: max((x) => x.dynamoReads),
    dynamoWriteUnits: max((x) => x.dynamoWriteUnits),
    dynamoReadUnits: max((x) => x.dynamoReadUnits),
    dynamoOps: ops,
    secretsCalls: max((x) => x.secretsCalls),
    cloverCalls: max((x) => x.cloverCalls),
    status: [...new Set(s.map((x) => x.status))].join('/'),
    ms: s.map((x) => x.ms).sort((a, b) => a - b)[Math.floor(s.length / 2)] ?? Number.NaN,
  };
}

/** The deployed function's own settings (log level, Powertools, Clover timeout); endpoints stay the platform's. */
function functionEnv(fn: DeployedFunction): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(literalEnvironment(fn))) {
    if (k.startsWith('POWERTOOLS_') || k === 'LOG_LEVEL' || k === 'CLOVER_TIMEOUT_MS') out[k] = v;
  }
  return out;
}

function runChild(spec: CallSpec, env: Record<string, string>): Promise<{ importMs: number; results: CallResult[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench', 'call-child.ts')], {
      cwd: repoRoot,
      env: { ...process.env, ...env, BENCH_CALL_SPEC: JSON.stringify(spec) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('error', reject);
    child.on('exit', () => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (!line) return reject(new Error(`call child for ${spec.fn} printed no result:\n${(err || out).slice(-2000)}`));
      const parsed = JSON.parse(line.slice('BENCH_RESULT '.length)) as {
        importMs: number;
        results: CallResult[];
        error?: string;
      };
      if (parsed.error) return reject(new Error(`call child for ${spec.fn}: ${parsed.error}`));
      resolve(parsed);
    });
  });
}

export async function measureCounts(opts: {
  functions: DeployedFunction[];
  platform: { emulatorUrl: string; dynamodbEndpoint: string; secretsManagerUrl: string };
  /** A merchant per operation (the emulator log is filtered by merchant). */
  merchants: Record<CountedOp, BenchMerchant>;
  warmCalls: number;
  progress: (line: string) => void;
}): Promise<OpCounts[]> {
  const deployed = (fn: string) => {
    const f = opts.functions.find((x) => x.name === fn);
    if (!f) throw new Error(`no deployed bundle for ${fn}`);
    return f;
  };
  const calls = 1 + opts.warmCalls;
  const m = opts.merchants;

  // Refunds need a succeeded charge to refund: made here, through the charges handler in process.
  const charges = (await import('../functions/charges/index')).handler as (
    e: unknown,
    c: Context,
  ) => Promise<APIGatewayProxyResult>;
  const [refundSource] = await makeTokens(opts.platform.emulatorUrl, m.refund.pakmsKey, 1, 1);
  const made = await charges(
    proxyEvent({
      method: 'POST',
      resource: '/v1/charges',
      body: { source: refundSource, amount: 500 * (calls + 1), currency: 'usd' },
      idempotencyKey: randomUUID(),
      caller: m.refund.secret,
    }),
    lambdaContext('charges', randomUUID()),
  );
  if (made.statusCode !== 201) throw new Error(`charge to refund: ${made.statusCode} ${made.body}`);
  const chargeId = (JSON.parse(made.body) as { id: string }).id;
  const chargeTokens = await makeTokens(opts.platform.emulatorUrl, m.charge.pakmsKey, calls, 2);

  const plans: { op: CountedOp; fn: string; merchant: BenchMerchant; events: unknown[] }[] = [
    {
      op: 'charge',
      fn: 'charges',
      merchant: m.charge,
      events: chargeTokens.map((source) =>
        proxyEvent({
          method: 'POST',
          resource: '/v1/charges',
          body: { source, amount: 1099, currency: 'usd' },
          idempotencyKey: randomUUID(),
          caller: m.charge.secret,
        }),
      ),
    },
    {
      op: 'refund',
      fn: 'refunds',
      merchant: m.refund,
      events: Array.from({ length: calls }, () =>
        proxyEvent({
          method: 'POST',
          resource: '/v1/refunds',
          body: { charge: chargeId, amount: 500 },
          idempotencyKey: randomUUID(),
          caller: m.refund.secret,
        }),
      ),
    },
    {
      op: 'tokenize',
      fn: 'tokens',
      merchant: m.tokenize,
      events: Array.from({ length: calls }, () =>
        proxyEvent({
          method: 'POST',
          resource: '/v1/tokens',
          body: { card: TEST_CARD },
          caller: m.tokenize.publishable,
        }),
      ),
    },
    {
      op: 'checkout-config',
      fn: 'checkout-config',
      merchant: m['checkout-config'],
      events: Array.from({ length: calls }, () =>
        proxyEvent({ method: 'GET', resource: '/v1/checkout-config', caller: m['checkout-config'].publishable }),
      ),
    },
    {
      op: 'authorizer',
      fn: 'authorizer',
      merchant: m.authorizer,
      events: Array.from({ length: calls }, () =>
        authorizerEvent({ method: 'POST', resource: '/v1/charges' }, m.authorizer.secret.key),
      ),
    },
  ];

  const out: OpCounts[] = [];
  for (const plan of plans) {
    let r: { importMs: number; results: CallResult[] };
    try {
      r = await runChild(
        {
          bundlePath: deployed(plan.fn).bundlePath,
          fn: plan.fn,
          merchantId: plan.merchant.merchantId,
          emulatorUrl: opts.platform.emulatorUrl,
          dynamodbEndpoint: opts.platform.dynamodbEndpoint,
          secretsManagerEndpoint: opts.platform.secretsManagerUrl,
          events: plan.events,
        },
        functionEnv(deployed(plan.fn)),
      );
    } catch (e) {
      const empty: CallResult = {
        ms: Number.NaN,
        status: 'error',
        dynamo: emptyCounts(),
        secrets: emptyCounts(),
        clover: 0,
        cloverPaths: [],
      };
      out.push({
        op: plan.op,
        fn: plan.fn,
        cold: empty,
        warm: [],
        warmMax: summarize(empty),
        coldSummary: summarize(empty),
        importMs: Number.NaN,
        error: (e as Error).message,
      });
      opts.progress(`calls: ${plan.op} FAILED: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    const [cold, ...warm] = r.results;
    out.push({
      op: plan.op,
      fn: plan.fn,
      cold: cold!,
      warm,
      warmMax: maxSummary(warm),
      coldSummary: summarize(cold!),
      importMs: r.importMs,
      error: null,
    });
    const c = summarize(cold!);
    const w = maxSummary(warm);
    opts.progress(
      `calls: ${plan.op} cold ${c.status} ddb ${c.dynamoWrites}w/${c.dynamoReads}r sm ${c.secretsCalls} clover ${c.cloverCalls}; warm ${w.status} ddb ${w.dynamoWrites}w/${w.dynamoReads}r sm ${w.secretsCalls} clover ${w.cloverCalls}`,
    );
  }
  return out;
}
