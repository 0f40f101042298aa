/**
 * Measures the shared Clover rate budget (shared/clover/budget.ts), for docs/money.md:
 * `npx tsx test/simulation/budget-measure.ts`.
 *
 * Charges arrive for one merchant at OFFERED_RPS, each from a caller of its own (in-process
 * invocations of the real charges handler, as concurrent Lambdas would be), against the Clover
 * emulator with Clover's own limits on (16 requests/s and 5 in flight per token) and an answer time
 * like Clover's; once per budget in BUDGETS (default `0,8`: off, then the default 8/s).
 * It counts what Clover answered 429 (those charges are left pending, to be resolved later), what we
 * refused ourselves before sending anything (429 without a charge), what succeeded, and latency.
 * Real time, no simulation hooks.
 */
import { proxyEvent } from '../../local/gateway';
import { hooks } from '../../shared/hooks';
import { cardToken, newMerchant, startWorld } from './world';

const N = Number(process.env.N ?? 120);
/** Charges arrive at this rate, each from its own caller (no caller waits for another). */
const OFFERED_RPS = Number(process.env.OFFERED_RPS ?? 20);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 250);

const w = await startWorld();
let clover429 = 0;
let cloverCalls = 0;
const fetchReal = hooks.fetch;
hooks.fetch = async (input, init) => {
  const r = await fetchReal(input, init);
  const path = new URL(String(input)).pathname;
  if (path.startsWith('/v1/charges')) {
    cloverCalls++;
    if (r.status === 429) clover429++;
  }
  return r;
};
const emulator = async (path: string, body: unknown) =>
  fetch(`${w.emulatorUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

const rows: string[] = [];
try {
  for (const rate of (process.env.BUDGETS ?? '0,8').split(',')) {
    const label = rate === '0' ? 'off' : `${rate}/s`;
    process.env.CLOVER_RATE_PER_SECOND = rate;
    await emulator('/_emulator/config', { rate_limits: false });
    const m = await newMerchant(w, { idempotency_mode: 'replay', list_lag_ms: 0 }, () => Date.now());
    const tokens: string[] = [];
    for (let i = 0; i < N; i++) tokens.push(await cardToken(w, m, '4242424242424242'));
    // Clover's answer time, and Clover's limits.
    await emulator('/_emulator/faults', {
      path: '/v1/charges',
      method: 'POST',
      merchant_id: m.merchantId,
      delay_ms: LATENCY_MS,
      times: N * 4,
    });
    await emulator('/_emulator/config', { rate_limits: true });
    clover429 = 0;
    cloverCalls = 0;
    const statuses: Record<string, number> = {};
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        await new Promise((r) => setTimeout(r, (i * 1000) / OFFERED_RPS));
        {
          const event = proxyEvent({
            method: 'POST',
            url: new URL('https://api.sim.invalid/v1/charges'),
            rawHeaders: ['Content-Type', 'application/json', 'Idempotency-Key', `budget-${label}-${i}`],
            body: Buffer.from(JSON.stringify({ source: tokens[i], amount: 1000 + i, currency: 'usd' })),
            sourceIp: '203.0.113.7',
            resource: '/v1/charges',
            pathParameters: null,
            requestId: `budget-${label}-${i}`,
          });
          (event.requestContext as { authorizer: unknown }).authorizer = {
            merchant_id: m.merchantId,
            key_kind: 'secret',
            key_id: 'measure',
          };
          const t0 = performance.now();
          const r = await w.handlers.charges(event);
          latencies.push(performance.now() - t0);
          const pending = r.statusCode !== 201 && (JSON.parse(r.body) as { error?: { charge?: string } }).error?.charge;
          const outcome = r.statusCode === 201 ? '201' : `${r.statusCode}${pending ? ' pending' : ' refused'}`;
          statuses[outcome] = (statuses[outcome] ?? 0) + 1;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    await fetch(`${w.emulatorUrl}/_emulator/faults`, { method: 'DELETE' });
    latencies.sort((a, b) => a - b);
    const q = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]!);
    const other =
      Object.entries(statuses)
        .filter(([k]) => !['201', '429 pending', '429 refused'].includes(k))
        .map(([k, n]) => `${k}×${n}`)
        .join(' ') || '–';
    rows.push(
      `| ${label} | ${cloverCalls} | ${clover429} | ${statuses['201'] ?? 0} | ${statuses['429 pending'] ?? 0} | ${statuses['429 refused'] ?? 0} | ${other} | ${q(0.5)} / ${q(0.95)} | ${((statuses['201'] ?? 0) / seconds).toFixed(1)} |`,
    );
  }
} finally {
  await w.stop();
}
console.log(
  `${N} charges offered at ${OFFERED_RPS}/s to one merchant; Clover answers in ${LATENCY_MS} ms, with its limits on (16/s, 5 in flight per token).\n`,
);
console.log(
  '| budget | Clover calls | Clover 429s | 201 | 429, charge left pending | 429, refused before sending | other | latency p50 / p95 ms | successful charges/s |',
);
console.log('|---|---:|---:|---:|---:|---:|---|---:|---:|');
for (const r of rows) console.log(r);
