/** A storefront's webhook receiver for the tests: answers by plan (status, delay), records everything. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  at: number;
  headers: Record<string, string>;
  body: string;
  answered: number | 'hang';
}

export type Step = number | { status: number; delayMs: number } | 'hang';

export async function receiver(plan: Step[] = []) {
  const received: Received[] = [];
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const step = plan.shift() ?? 200;
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      received.push({
        at: Date.now(),
        headers,
        body,
        answered: step === 'hang' ? 'hang' : typeof step === 'number' ? step : step.status,
      });
      if (step === 'hang') return void hanging.push(res);
      const [status, delay] = typeof step === 'number' ? [step, 0] : [step.status, step.delayMs];
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end('ok');
      }, delay);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`;
  return {
    url,
    received,
    /** Deliveries of one event (by webhook-id). */
    of: (eventId: string) => received.filter((r) => r.headers['webhook-id'] === eventId),
    close: () =>
      new Promise<void>((r) => {
        for (const h of hanging) h.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
