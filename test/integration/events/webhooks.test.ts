/**
 * Events out, against the local platform: the table's stream → event-publisher → deliveries →
 * event-deliverer → a receiver here, signed as Standard Webhooks (verified with the
 * `standardwebhooks` package), retried on failures with the same webhook-id; the events API; the
 * event bus; SSRF refusals; and "an event iff the change is committed".
 * The test platform runs the retry schedule 200× faster (EVENTS_RETRY_SCALE, test/global-setup.ts).
 */
import { TransactWriteItemsCommand } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ddb, newMerchant, platform } from '../../helpers/platform';
import { CARDS, charge, chargeId, type Merchant } from '../payments/helpers';
import { receiver, until } from './receiver';

type Receiver = Awaited<ReturnType<typeof receiver>>;

async function endpoint(m: Merchant, url: string, enabled_events: string[] = ['*']) {
  const r = await api('POST', '/v1/webhook-endpoints', { key: m.secret_key, body: { url, enabled_events } });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { id: string; secret: string };
}

const eventsOf = async (m: Merchant, query = '') =>
  (await api('GET', `/v1/events${query}`, { key: m.secret_key })).body.data as {
    id: string;
    type: string;
    data: { object: { id: string } };
  }[];

async function eventFor(m: Merchant, type: string, objectId: string) {
  return until(`${type} for ${objectId}`, async () =>
    (await eventsOf(m, `?type=${type}`)).find((e) => e.data.object.id === objectId),
  );
}

describe('webhook endpoints API', () => {
  let m: Merchant;
  beforeAll(async () => {
    m = await newMerchant();
  });

  it('creates, lists, reads and deletes; the secret is shown on create only', async () => {
    const created = await endpoint(m, 'https://shop.example.com/hooks', ['charge.succeeded']);
    expect(created).toMatchObject({ id: expect.stringMatching(/^we_/), secret: expect.stringMatching(/^whsec_/) });
    const one = await api('GET', `/v1/webhook-endpoints/${created.id}`, { key: m.secret_key });
    expect(one.body).toMatchObject({
      id: created.id,
      url: 'https://shop.example.com/hooks',
      enabled_events: ['charge.succeeded'],
      status: 'enabled',
    });
    expect(one.body.secret).toBeUndefined();
    const list = await api('GET', '/v1/webhook-endpoints', { key: m.secret_key });
    expect(list.body.data.map((e: { id: string }) => e.id)).toContain(created.id);
    expect((await api('DELETE', `/v1/webhook-endpoints/${created.id}`, { key: m.secret_key })).status).toBe(200);
    expect((await api('GET', `/v1/webhook-endpoints/${created.id}`, { key: m.secret_key })).status).toBe(404);
  });

  it('refuses SSRF targets and non-https URLs; unknown event types; publishable keys', async () => {
    for (const url of [
      'http://10.0.0.1/hooks',
      'https://169.254.169.254/latest/meta-data/',
      'ftp://shop.example.com/',
      'http://shop.example.com/hooks',
    ]) {
      const r = await api('POST', '/v1/webhook-endpoints', { key: m.secret_key, body: { url, enabled_events: ['*'] } });
      expect(r.status, url).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'url_invalid', param: 'url' });
    }
    const bad = await api('POST', '/v1/webhook-endpoints', {
      key: m.secret_key,
      body: { url: 'https://x.example.com', enabled_events: ['charge.exploded'] },
    });
    expect(bad.status).toBe(400);
    const pk = await api('POST', '/v1/webhook-endpoints', {
      key: m.publishable_key,
      body: { url: 'https://x.example.com', enabled_events: ['*'] },
    });
    expect(pk.status).toBe(403);
    expect((await api('GET', '/v1/events', { key: m.publishable_key })).status).toBe(403);
  });

  it("another merchant's endpoint and events answer 404", async () => {
    const other = await newMerchant();
    const e = await endpoint(other, 'https://other.example.com/hooks');
    expect((await api('GET', `/v1/webhook-endpoints/${e.id}`, { key: m.secret_key })).status).toBe(404);
    const installed = await eventFor(other, 'merchant.installed', other.merchant_id);
    expect((await api('GET', `/v1/events/${installed.id}`, { key: m.secret_key })).status).toBe(404);
  });
});

describe('delivery', () => {
  let m: Merchant;
  let rx: Receiver;
  let secret: string;
  beforeAll(async () => {
    m = await newMerchant();
    rx = await receiver();
    secret = (await endpoint(m, rx.url)).secret;
  });
  afterAll(() => rx.close());

  it('a charge produces charge.succeeded, delivered signed (verified by standardwebhooks), in the events API and on the bus', async () => {
    const id = await chargeId(m);
    const evt = await eventFor(m, 'charge.succeeded', id);
    const [d] = await until('the delivery', () => (rx.of(evt.id).length > 0 ? rx.of(evt.id) : undefined));
    const payload = new Webhook(secret).verify(d!.body, d!.headers) as {
      id: string;
      type: string;
      data: { object: Record<string, unknown> };
    };
    expect(payload).toMatchObject({ id: evt.id, object: 'event', type: 'charge.succeeded', livemode: false });
    expect(payload.data.object).toMatchObject({ id, object: 'charge', status: 'succeeded', amount: 1000 });
    const full = await until('the recorded attempt', async () => {
      const r = await api('GET', `/v1/events/${evt.id}`, { key: m.secret_key });
      return r.body.deliveries?.[0]?.state === 'delivered' ? r.body : undefined;
    });
    expect(full.deliveries[0].attempts[0]).toMatchObject({
      status: 200,
      duration_ms: expect.any(Number),
      at: expect.any(String),
    });
    const bus = await until('the event on the bus', async () => {
      const all = (await (await fetch(`${platform().eventBridgeUrl}/_local/events`)).json()) as {
        source: string;
        detailType: string;
        detail: { id: string };
      }[];
      return all.find((e) => e.detail.id === evt.id);
    });
    expect(bus).toMatchObject({ source: 'clover-payments', detailType: 'charge.succeeded' });
  });

  it('a decline produces charge.failed; a refund charge.refunded and refund.succeeded', async () => {
    const declined = await charge(m, {}, { number: CARDS.decline });
    expect(declined.status).toBe(402);
    await eventFor(m, 'charge.failed', declined.body.error.charge);
    const id = await chargeId(m);
    const refund = await api('POST', '/v1/refunds', {
      key: m.secret_key,
      idem: crypto.randomUUID(),
      body: { charge: id, amount: 400 },
    });
    expect(refund.status).toBe(201);
    await eventFor(m, 'refund.succeeded', refund.body.id);
    await eventFor(m, 'charge.refunded', id);
  });

  it('events list newest first with type and created filters and a cursor', async () => {
    const all = await eventsOf(m, '?limit=100');
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect([...all].map((e) => e.id)).toEqual(
      [...all]
        .map((e) => e.id)
        .sort()
        .reverse(),
    );
    const page = await api('GET', `/v1/events?limit=1&starting_after=${all[0]!.id}`, { key: m.secret_key });
    expect(page.body.data[0].id).toBe(all[1]!.id);
    const future = await eventsOf(m, `?created[gte]=${new Date(Date.now() + 60_000).toISOString()}`);
    expect(future).toEqual([]);
    expect((await api('GET', '/v1/events?limit=0', { key: m.secret_key })).status).toBe(400);
  });
});

describe('faults: the receiver fails, hangs, is slow, then recovers', () => {
  it('every event is delivered, retries carry the same webhook-id', async () => {
    const m = await newMerchant();
    // 500, a hang past the 10 s timeout, a slow (2 s) 503, then 200: retried after ~0.3 s, ~1.5 s, ~9 s.
    const rx = await receiver([500, 'hang', { status: 503, delayMs: 2000 }, 200]);
    const { secret } = await endpoint(m, rx.url, ['charge.succeeded']);
    const id = await chargeId(m);
    const evt = await eventFor(m, 'charge.succeeded', id);
    await until('delivery after retries', () => rx.of(evt.id).find((r) => r.answered === 200), 60_000);
    const tries = rx.of(evt.id);
    expect(tries.map((t) => t.answered)).toEqual([500, 'hang', 503, 200]);
    expect(new Set(tries.map((t) => t.headers['webhook-id']))).toEqual(new Set([evt.id]));
    for (const t of tries) expect(() => new Webhook(secret).verify(t.body, t.headers)).not.toThrow();
    const r = await until('all attempts recorded', async () => {
      const e = await api('GET', `/v1/events/${evt.id}`, { key: m.secret_key });
      return e.body.deliveries[0].state === 'delivered' ? e.body : undefined;
    });
    expect(r.deliveries[0].attempts.map((a: { status: number | null }) => a.status)).toEqual([500, null, 503, 200]);
    expect(r.deliveries[0].attempts[1].error).toMatch(/timed out after 10000 ms/);
    await rx.close();
  }, 90_000);

  it('resend delivers again with the same webhook-id', async () => {
    const m = await newMerchant();
    const rx = await receiver();
    await endpoint(m, rx.url);
    const installed = await eventFor(m, 'merchant.installed', m.merchant_id);
    // The endpoint was made after the install: nothing was sent until the resend.
    expect(rx.of(installed.id)).toHaveLength(0);
    const r = await api('POST', `/v1/events/${installed.id}/resend`, { key: m.secret_key });
    expect(r.status).toBe(200);
    await until('the resent delivery', () => (rx.of(installed.id).length === 1 ? true : undefined));
    await rx.close();
  });
});

describe('secret rotation', () => {
  it('during the 24 h overlap, deliveries carry both signatures and either secret verifies', async () => {
    const m = await newMerchant();
    const rx = await receiver();
    const ep = await endpoint(m, rx.url, ['charge.succeeded']);
    const rotated = await api('POST', `/v1/webhook-endpoints/${ep.id}/rotate-secret`, { key: m.secret_key });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(ep.secret);
    const id = await chargeId(m);
    const evt = await eventFor(m, 'charge.succeeded', id);
    const [d] = await until('the delivery', () => (rx.of(evt.id).length ? rx.of(evt.id) : undefined));
    expect(d!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(() => new Webhook(ep.secret).verify(d!.body, d!.headers)).not.toThrow();
    expect(() => new Webhook(rotated.body.secret).verify(d!.body, d!.headers)).not.toThrow();
    await rx.close();
  });
});

describe('an event iff the change is committed', () => {
  it('a cancelled transaction emits nothing; the same change committed emits once', async () => {
    const m = await newMerchant();
    const id = await chargeId(m, { capture: false });
    const key = { pk: { S: `MERCHANT#${m.merchant_id}` }, sk: { S: `CHARGE#${id}` } };
    const capture = {
      Update: {
        TableName: platform().tableName,
        Key: key,
        UpdateExpression: 'SET captured = :t, amount_captured = amount',
        ExpressionAttributeValues: { ':t': { BOOL: true } },
      },
    };
    // The same capture, in a transaction whose other half fails: DynamoDB cancels both.
    const cancelled = ddb().send(
      new TransactWriteItemsCommand({
        TransactItems: [
          capture,
          {
            ConditionCheck: {
              TableName: platform().tableName,
              Key: { pk: { S: `MERCHANT#${m.merchant_id}` }, sk: { S: 'NO#SUCH#ITEM' } },
              ConditionExpression: 'attribute_exists(pk)',
            },
          },
        ],
      }),
    );
    await expect(cancelled).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    // A committed change after it: once its event is there, the stream has passed the cancelled one.
    await ddb().send(
      new UpdateCommand({
        TableName: platform().tableName,
        Key: { pk: `MERCHANT#${m.merchant_id}`, sk: `CHARGE#${id}` },
        UpdateExpression: 'SET captured = :t, amount_captured = amount',
        ExpressionAttributeValues: { ':t': true },
      }),
    );
    await eventFor(m, 'charge.captured', id);
    await new Promise((r) => setTimeout(r, 1000));
    const captured = (await eventsOf(m, '?type=charge.captured')).filter((e) => e.data.object.id === id);
    expect(captured).toHaveLength(1);
  });
});
