import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptDelivery, guardedLookup, type Resolver } from '../../../shared/events/deliver';
import { checkAddress, checkEndpointUrl } from '../../../shared/events/ssrf';

describe('endpoint URLs', () => {
  it.each([
    ['https://shop.example.com/webhooks', true, true],
    ['http://shop.example.com/webhooks', true, false],
    ['http://shop.example.com/webhooks', false, false],
    ['http://localhost:4242/webhooks', false, true],
    ['http://127.0.0.1:4242/webhooks', false, true],
    ['http://localhost:4242/webhooks', true, false],
    ['https://localhost/webhooks', true, false],
    ['https://10.1.2.3/', true, false],
    ['https://192.168.1.1/', true, false],
    ['https://172.16.0.1/', true, false],
    ['https://127.0.0.1/', true, false],
    ['https://[::1]/', true, false],
    ['https://[fd00::1]/', true, false],
    ['https://[::ffff:10.0.0.1]/', true, false],
    ['https://169.254.169.254/latest/meta-data', true, false],
    ['https://169.254.169.254/latest/meta-data', false, false],
    ['https://[fe80::1]/', false, false],
    ['https://8.8.8.8/', true, true],
    ['https://user:pw@shop.example.com/', false, false],
    ['ftp://shop.example.com/', false, false],
    ['not a url', false, false],
  ])('%s (live %s) → allowed %s', (url, live, ok) => {
    expect(checkEndpointUrl(url, live).ok).toBe(ok);
  });

  it('resolved addresses: live mode refuses private, loopback, link-local, CGNAT; test mode only link-local', () => {
    for (const a of [
      '10.0.0.1',
      '127.0.0.1',
      '::1',
      '169.254.169.254',
      '100.64.1.1',
      '0.0.0.0',
      '::ffff:192.168.0.1',
      'fc00::1',
    ]) {
      expect(checkAddress(a, true)).not.toBeNull();
    }
    expect(checkAddress('93.184.216.34', true)).toBeNull();
    expect(checkAddress('127.0.0.1', false)).toBeNull();
    expect(checkAddress('169.254.169.254', false)).not.toBeNull();
  });
});

describe('delivery-time check (DNS rebinding)', () => {
  let server: http.Server;
  let port = 0;
  let hits = 0;
  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('the lookup refuses a name that resolves to loopback in live mode, and the connection is never made', async () => {
    // A name that passed the URL check and now resolves to loopback (DNS rebinding).
    const rebound: Resolver = (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
    const err = await new Promise<Error | null>((resolve) =>
      guardedLookup(true, rebound)('shop.example.com', {}, (e: Error | null) => resolve(e)),
    );
    expect(err?.message).toMatch(/refused: shop.example.com resolves to a private or loopback address/);
    const a = await attemptDelivery({
      url: `https://shop.example.com:${port}/`,
      resolve: rebound,
      livemode: true,
      secrets: ['whsec_AAAA'],
      msgId: 'evt_1',
      body: '{}',
    });
    expect(a.status).toBeNull();
    expect(a.error).toMatch(/refused/);
    expect(hits).toBe(0);
  });

  it('test mode delivers to localhost over http', async () => {
    const a = await attemptDelivery({
      url: `http://localhost:${port}/`,
      livemode: false,
      secrets: ['whsec_AAAA'],
      msgId: 'evt_1',
      body: '{}',
    });
    expect(a.status).toBe(200);
    expect(hits).toBe(1);
  });

  it('a receiver slower than the timeout is a failed attempt', async () => {
    const slow = http.createServer(() => {});
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const a = await attemptDelivery({
      url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`,
      livemode: false,
      secrets: ['whsec_AAAA'],
      msgId: 'evt_1',
      body: '{}',
      timeoutMs: 200,
    });
    slow.closeAllConnections();
    slow.close();
    expect(a).toMatchObject({ status: null, error: 'timed out after 200 ms' });
  });
});
