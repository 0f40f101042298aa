/**
 * Events delivered per second on the local platform, end to end: `n` committed charge changes
 * (written straight to the table, as the money core's final write would be: no Clover in the
 * measurement) → the stream poller → event-publisher → event items and deliveries →
 * event-deliverer → a receiver on this machine answering 200. Counted at the receiver (unique
 * webhook-ids); with the cost of a million events from infra/prices.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { costPerMillionEvents, total } from '../infra/prices';
import { readProfile } from '../local/credentials';
import type { Platform } from '../local/platform';

export interface EventThroughput {
  events: number;
  delivered: number;
  duplicated: number;
  seconds: number;
  perSecond: number;
  p50LatencyMs: number;
  costPerMillionUsd: number;
}

export async function measureEventDelivery(
  p: Platform,
  merchant: { merchantId: string; secretKey: string },
  n = 300,
): Promise<EventThroughput> {
  const seen = new Map<string, number>();
  let duplicated = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      if (seen.has(id)) duplicated++;
      else seen.set(id, Date.now());
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  const ep = await fetch(`${p.gatewayUrl}/v1/webhook-endpoints`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${merchant.secretKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, enabled_events: ['charge.succeeded'] }),
  });
  if (ep.status !== 201) throw new Error(`endpoint: ${ep.status} ${await ep.text()}`);
  const admin = readProfile(p.dataDir, 'admin');
  const ddb = new DynamoDBClient({ endpoint: p.dynamodbEndpoint, region: 'us-east-1', credentials: admin });
  const started = Date.now();
  const written = new Map<string, number>();
  for (let i = 0; i < n; i += 25) {
    const items = Array.from({ length: Math.min(25, n - i) }, (_, j) => {
      const id = `ch_bench${String(i + j).padStart(6, '0')}${Date.now().toString(36)}`;
      const now = new Date().toISOString();
      written.set(id, Date.now());
      return {
        PutRequest: {
          Item: marshall({
            pk: `MERCHANT#${merchant.merchantId}`,
            sk: `CHARGE#${id}`,
            object: 'charge',
            id,
            merchant_id: merchant.merchantId,
            amount: 100,
            currency: 'usd',
            status: 'succeeded',
            captured: true,
            amount_captured: 100,
            amount_refunded: 0,
            source: null,
            clover: { charge_id: null, ref_num: null, auth_code: null, order_id: null },
            created: now,
            updated: now,
          }),
        },
      };
    });
    await ddb.send(new BatchWriteItemCommand({ RequestItems: { [p.tableName]: items } }));
  }
  const deadline = Date.now() + 120_000;
  while (seen.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const seconds = (Date.now() - started) / 1000;
  server.close();
  const latencies = [...seen.values()].map((t) => t - started).sort((a, b) => a - b);
  return {
    events: n,
    delivered: seen.size,
    duplicated,
    seconds,
    perSecond: seen.size / seconds,
    p50LatencyMs: latencies[Math.floor(latencies.length / 2)] ?? 0,
    costPerMillionUsd: total(costPerMillionEvents()),
  };
}
