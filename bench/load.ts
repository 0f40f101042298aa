/**
 * Phase 4 load generator, run in its own process so that the platform's event loop (the gateway,
 * the handlers and the emulator, all in the bench process) is not also running the clients.
 * `concurrency` clients loop for `durationMs` over keep-alive connections (Node's fetch = undici,
 * whose global agent keeps connections alive). For charges, every request needs a fresh `clv_`
 * token: they are made at the emulator before the timed window starts. If the pool runs dry, the
 * window ends there and the report says so. A warm-up of `warmupMs` precedes the window.
 * Spec in BENCH_LOAD_SPEC; prints one `BENCH_RESULT {json}` line.
 */
import { randomUUID } from 'node:crypto';
import { TEST_CARD } from './events';
import { percentile } from './stats';

export interface LoadSpec {
  readonly kind: 'health' | 'checkout-config' | 'charges';
  readonly gatewayUrl: string;
  readonly emulatorUrl: string;
  readonly key: string;
  readonly pakmsKey: string;
  readonly concurrency: number;
  readonly durationMs: number;
  /** charges: tokens to make before the window. */
  readonly tokens: number;
  /** Unmeasured requests before the window, so that the gateway's code is warm (ms). */
  readonly warmupMs: number;
}

export interface LoadResult {
  readonly kind: LoadSpec['kind'];
  readonly concurrency: number;
  /** Length of the measured window (ms): the duration, or less if the token pool ran dry. */
  readonly windowMs: number;
  readonly ok: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly rps: number;
  readonly latencyP50: number;
  readonly latencyP99: number;
  readonly tokensMade: number;
  readonly tokenSetupMs: number;
  readonly poolExhausted: boolean;
  /** CPU the client process used during the window (ms). */
  readonly clientCpuMs: number;
}

export interface WindowResources {
  /** This process (gateway, handlers, emulator, DynamoDB clients): CPU ms during the window. */
  readonly platformCpuMs: number;
  /** The DynamoDB Local JVM: CPU ms during the window. */
  readonly dynamoDbLocalCpuMs: number;
  readonly wallMs: number;
  readonly dynamoCalls: number;
  readonly dynamoWaitMs: number;
}

export type LoadRun = LoadResult & { resources: WindowResources | null };

async function makeTokens(spec: LoadSpec): Promise<string[]> {
  const out: string[] = [];
  let left = spec.tokens;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (left > 0) {
        left--;
        const r = await fetch(`${spec.emulatorUrl}/v1/tokens`, {
          method: 'POST',
          headers: { apikey: spec.pakmsKey, 'Content-Type': 'application/json' },
          body: JSON.stringify({ card: TEST_CARD }),
        });
        const body = (await r.json()) as { id?: string };
        if (r.status !== 200 || !body.id) throw new Error(`emulator token: ${r.status} ${JSON.stringify(body)}`);
        out.push(body.id);
      }
    }),
  );
  return out;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.BENCH_LOAD_SPEC ?? '{}') as LoadSpec;
  const t0 = performance.now();
  const pool = spec.kind === 'charges' ? await makeTokens(spec) : [];
  const tokenSetupMs = performance.now() - t0;
  const tokensMade = pool.length;

  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let exhaustedAt: number | null = null;

  const request = (): Promise<Response> | null => {
    if (spec.kind === 'health') return fetch(`${spec.gatewayUrl}/health`);
    const headers: Record<string, string> = { Authorization: `Bearer ${spec.key}` };
    if (spec.kind === 'checkout-config') {
      return fetch(`${spec.gatewayUrl}/v1/checkout-config`, { headers });
    }
    const source = pool.pop();
    if (!source) return null;
    headers['Content-Type'] = 'application/json';
    headers['Idempotency-Key'] = randomUUID();
    return fetch(`${spec.gatewayUrl}/v1/charges`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ source, amount: 1099, currency: 'usd' }),
    });
  };

  // Warm-up: the same requests, not counted (charges spend tokens from the pool on it too).
  const warmupEnd = performance.now() + spec.warmupMs;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < warmupEnd) {
        const pending = request();
        if (!pending) return;
        try {
          await (await pending).arrayBuffer();
        } catch {
          // counted in the window only
        }
      }
    }),
  );

  // The parent samples CPU and DynamoDB counters when it reads these lines.
  process.stdout.write('BENCH_WINDOW start\n');
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const deadline = started + spec.durationMs;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        const pending = request();
        if (!pending) {
          exhaustedAt ??= performance.now();
          return;
        }
        let status: string;
        try {
          const r = await pending;
          await r.arrayBuffer();
          status = String(r.status);
        } catch (e) {
          status = `network:${(e as Error)?.name ?? 'Error'}`;
        }
        const end = performance.now();
        if (end > deadline) break; // finished after the window: not counted
        statuses[status] = (statuses[status] ?? 0) + 1;
        latencies.push(end - t);
        if (status.startsWith('2')) ok++;
        else errors++;
      }
    }),
  );
  process.stdout.write('BENCH_WINDOW end\n');
  const cpu = process.cpuUsage(cpu0);
  const windowMs = Math.min(spec.durationMs, (exhaustedAt ?? deadline) - started);
  const result: LoadResult = {
    kind: spec.kind,
    concurrency: spec.concurrency,
    windowMs,
    ok,
    errors,
    statuses,
    rps: ok / (windowMs / 1000),
    latencyP50: percentile(latencies, 50),
    latencyP99: percentile(latencies, 99),
    tokensMade,
    tokenSetupMs,
    poolExhausted: exhaustedAt !== null,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((e) => {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ error: String((e as Error)?.stack ?? e) })}\n`);
  process.exit(1);
});
