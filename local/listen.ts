/**
 * `npm run listen -- --forward-to http://localhost:4242/webhooks [--events charge.succeeded,…]`:
 * like `stripe listen`. Registers a temporary webhook endpoint for the demo merchant (a receiver on
 * 127.0.0.1, which test mode accepts), prints its signing secret, then prints every event as it
 * arrives and forwards it — body and Standard Webhooks headers unchanged, so the forward target
 * verifies with the printed secret — answering the platform with the target's status (a failing
 * target is retried like any endpoint). Ctrl-C deletes the endpoint.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readPlatformFile } from './platform';
import { readDemoMerchant } from './trigger';

const { values } = parseArgs({
  options: {
    'forward-to': { type: 'string' },
    events: { type: 'string', default: '*' },
    'api-key': { type: 'string' },
  },
});
const dataDir = resolve(process.env.DATA_DIR ?? '.local');
const platform = readPlatformFile(dataDir);
if (!platform) {
  console.error(`No running platform in ${dataDir}: start it with npm start.`);
  process.exit(1);
}
const key = values['api-key'] ?? readDemoMerchant(dataDir).secret_key;
const forwardTo = values['forward-to'];

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks).toString('utf8');
    let event: { id?: string; type?: string; data?: { object?: { id?: string } } } = {};
    try {
      event = JSON.parse(body);
    } catch {}
    const at = new Date().toISOString().slice(11, 19);
    if (!forwardTo) {
      console.log(`${at}  --> ${event.type} [${event.id}] ${event.data?.object?.id ?? ''}`);
      res.writeHead(200).end();
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) headers[h] = String(req.headers[h] ?? '');
    try {
      const r = await fetch(forwardTo, { method: 'POST', headers, body, signal: AbortSignal.timeout(9000) });
      console.log(`${at}  --> ${event.type} [${event.id}]  <-- [${r.status}] POST ${forwardTo}`);
      res.writeHead(r.status).end();
    } catch (e) {
      console.log(`${at}  --> ${event.type} [${event.id}]  <-- failed: ${(e as Error).message} (it will be retried)`);
      res.writeHead(502).end();
    }
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/listen`;
const created = await fetch(`${platform.gatewayUrl}/v1/webhook-endpoints`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ url, enabled_events: values.events.split(',') }),
});
const endpoint = (await created.json()) as { id: string; secret: string; error?: { message: string } };
if (created.status !== 201) {
  console.error(`Could not register the listener: ${endpoint.error?.message ?? created.status}`);
  process.exit(1);
}
console.log(`Ready! Your webhook signing secret is ${endpoint.secret} (endpoint ${endpoint.id})`);
if (forwardTo) console.log(`Forwarding events to ${forwardTo}. Ctrl-C to stop.`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await fetch(`${platform.gatewayUrl}/v1/webhook-endpoints/${endpoint.id}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${key}` },
  }).catch(() => {});
  server.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
