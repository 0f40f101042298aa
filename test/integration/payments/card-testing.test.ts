// Card testing (issue 13; API.md §2.5; docs/money.md, "Card testing"): a checkout session sends at
// most 5 declined cards to Clover, then answers 409 session_blocked; declines per publishable key
// and per shopper IP are limited (429 rate_limited, Clover not called); on the publishable pay
// route the IP Clover sees is the connection's, never the caller's claim.
//
// Every test here connects from its own loopback address (127.0.0.x), so that its declines count
// against an IP of its own and the defaults (10 per IP, 20 per key, 10-minute windows) apply.

import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { newKey, newMerchant, platform, type Res, sleep } from '../../helpers/platform';
import { CARDS, cloverRequestsOf, type Merchant, tokenFor } from './helpers';

const WINDOW_S = 600;

/** Like `api`, from a chosen local address (the connection's source IP as the gateway sees it). */
function apiFrom(
  from: string,
  method: string,
  path: string,
  opts: { key: string; body: unknown; idem?: string; headers?: Record<string, string> },
): Promise<Res> {
  const url = new URL(`${platform().gatewayUrl}${path}`);
  const data = JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        localAddress: from,
        headers: {
          Authorization: `Bearer ${opts.key}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(data),
          ...(opts.idem ? { 'Idempotency-Key': opts.idem } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          let body: any;
          try {
            body = text ? JSON.parse(text) : {};
          } catch {
            body = { text };
          }
          resolve({ status: res.statusCode ?? 0, headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function createSession(m: Merchant) {
  const r = await apiFrom('127.0.0.1', 'POST', '/v1/checkout-sessions', {
    key: m.secret_key,
    body: { amount: 1300, currency: 'usd' },
  });
  if (r.status !== 201) throw new Error(`session: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { id: string; client_secret: string };
}

const pay = (
  m: Merchant,
  from: string,
  s: { id: string; client_secret: string },
  body: Record<string, unknown>,
  headers?: Record<string, string>,
) =>
  apiFrom(from, 'POST', `/v1/checkout-sessions/${s.id}/pay`, {
    key: m.publishable_key,
    idem: newKey(),
    body: { client_secret: s.client_secret, ...body },
    ...(headers ? { headers } : {}),
  });

const cloverChargeCalls = async (m: Merchant) =>
  (await cloverRequestsOf(m.merchant_id, '/v1/charges')).filter((r) => r.method === 'POST' && r.path === '/v1/charges');

/** Fixed windows: a test that counts to a limit must not straddle a window's end. */
async function awayFromWindowEdge(needS = 60) {
  const left = WINDOW_S - (Math.floor(Date.now() / 1000) % WINDOW_S);
  if (left < needS) await sleep(left * 1000 + 1000);
}

describe('a checkout session takes at most 5 declined attempts', () => {
  let m: Merchant;
  beforeAll(async () => {
    m = await newMerchant();
  });

  it('ten declined cards in a row: 5 reach Clover (402), the rest answer 409 session_blocked', async () => {
    await awayFromWindowEdge(30);
    const s = await createSession(m);
    const before = (await cloverChargeCalls(m)).length;
    const answers: Res[] = [];
    for (let i = 0; i < 10; i++) {
      answers.push(await pay(m, '127.0.0.11', s, { source: await tokenFor(m, CARDS.decline) }));
    }
    expect(answers.map((a) => a.status)).toEqual([402, 402, 402, 402, 402, 409, 409, 409, 409, 409]);
    for (const a of answers.slice(5)) {
      expect(a.body.error).toMatchObject({ type: 'invalid_request_error', code: 'session_blocked' });
    }
    expect((await cloverChargeCalls(m)).length - before).toBe(5);
    // A good card is refused too: the session is done; no more Clover calls.
    const good = await pay(m, '127.0.0.11', s, { source: await tokenFor(m) });
    expect(good.status).toBe(409);
    expect(good.body.error.code).toBe('session_blocked');
    expect((await cloverChargeCalls(m)).length - before).toBe(5);
  });

  it('ten concurrent declined pays, again and again: at most 5 ever reach Clover', async () => {
    await awayFromWindowEdge(30);
    const s = await createSession(m);
    const before = (await cloverChargeCalls(m)).length;
    const statuses: number[] = [];
    // Rounds of 10 concurrent pays until the session is blocked (each round gets one through the lock).
    for (let round = 0; round < 8; round++) {
      const sources = await Promise.all(Array.from({ length: 10 }, () => tokenFor(m, CARDS.decline)));
      const answers = await Promise.all(sources.map((source) => pay(m, '127.0.0.12', s, { source })));
      statuses.push(...answers.map((a) => a.status));
      const codes = answers.filter((a) => a.status === 409).map((a) => a.body.error.code);
      expect(codes.every((c) => c === 'session_payment_in_progress' || c === 'session_blocked')).toBe(true);
      if (codes.every((c) => c === 'session_blocked') && codes.length === 10) break;
    }
    const sent = (await cloverChargeCalls(m)).length - before;
    expect(sent).toBeLessThanOrEqual(5);
    expect(statuses.filter((x) => x === 402).length).toBe(sent);
    const last = await pay(m, '127.0.0.12', s, { source: await tokenFor(m, CARDS.decline) });
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe('session_blocked');
  });
});

describe('decline velocity limits (429 rate_limited, Clover not called)', () => {
  it('per publishable key: past 20 declines in the window, a pay answers 429 with Retry-After', async () => {
    await awayFromWindowEdge(90);
    const m = await newMerchant();
    // 4 sessions × 5 declines, each session from its own IP (under the per-IP limit of 10).
    for (let i = 0; i < 4; i++) {
      const s = await createSession(m);
      for (let j = 0; j < 5; j++) {
        const r = await pay(m, `127.0.0.${21 + i}`, s, { source: await tokenFor(m, CARDS.decline) });
        expect(r.status).toBe(402);
      }
    }
    const before = (await cloverChargeCalls(m)).length;
    const s = await createSession(m);
    const r = await pay(m, '127.0.0.25', s, { source: await tokenFor(m) });
    expect(r.status).toBe(429);
    expect(r.body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limited' });
    const retryAfter = Number(r.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_S);
    expect((await cloverChargeCalls(m)).length).toBe(before);
  });

  it('per shopper IP: past 10 declines in the window from one IP, a pay answers 429 whatever the key', async () => {
    await awayFromWindowEdge(60);
    const [a, b] = await Promise.all([newMerchant(), newMerchant()]);
    for (const m of [a, b]) {
      const s = await createSession(m);
      for (let j = 0; j < 5; j++) {
        expect((await pay(m, '127.0.0.31', s, { source: await tokenFor(m, CARDS.decline) })).status).toBe(402);
      }
    }
    const c = await newMerchant();
    const s = await createSession(c);
    const before = (await cloverChargeCalls(c)).length;
    const r = await pay(c, '127.0.0.31', s, { source: await tokenFor(c) });
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('rate_limited');
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await cloverChargeCalls(c)).length).toBe(before);
    // Another address is not affected.
    expect((await pay(c, '127.0.0.32', s, { source: await tokenFor(c) })).status).toBe(201);
  });
});

describe('the shopper IP on the publishable pay route', () => {
  let m: Merchant;
  beforeAll(async () => {
    m = await newMerchant();
  });

  it('refuses customer_ip in the body with 400 param customer_ip, and calls nobody', async () => {
    const s = await createSession(m);
    const before = (await cloverChargeCalls(m)).length;
    const r = await pay(m, '127.0.0.41', s, { source: await tokenFor(m), customer_ip: '203.0.113.9' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ type: 'invalid_request_error', param: 'customer_ip' });
    expect((await cloverChargeCalls(m)).length).toBe(before);
  });

  it('sends the connection’s IP to Clover as x-forwarded-for, not a client’s X-Forwarded-For', async () => {
    const s = await createSession(m);
    const before = (await cloverChargeCalls(m)).length;
    const r = await pay(m, '127.0.0.1', s, { source: await tokenFor(m) }, { 'X-Forwarded-For': '6.6.6.6' });
    expect(r.status).toBe(201);
    const sent = (await cloverChargeCalls(m)).slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('from another address, that address', async () => {
    const s = await createSession(m);
    const before = (await cloverChargeCalls(m)).length;
    const r = await pay(m, '127.0.0.42', s, { source: await tokenFor(m) }, { 'X-Forwarded-For': '6.6.6.6' });
    expect(r.status).toBe(201);
    const sent = (await cloverChargeCalls(m)).slice(before);
    expect(sent.map((x) => x.headers['x-forwarded-for'])).toEqual(['127.0.0.42']);
  });
});
