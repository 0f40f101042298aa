/**
 * The local gateway builds the events API Gateway's REST proxy integration sends, calls the REQUEST
 * authorizer the way API Gateway does (identity source, cache per header, Gateway Responses), and
 * writes handler responses back intact. Handlers here are recording fakes; the real handlers are
 * exercised through it by the integration tests.
 */
import type { APIGatewayProxyEvent, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from '../../../local/gateway';
import type { FunctionName } from '../../../shared/routes';

const events: APIGatewayProxyEvent[] = [];
const authEvents: APIGatewayRequestAuthorizerEvent[] = [];
let gw: Gateway;

beforeAll(async () => {
  gw = await startGateway({
    port: 0,
    load: async (fn: FunctionName) => {
      if (fn === 'authorizer') {
        return {
          handler: async (e: APIGatewayRequestAuthorizerEvent) => {
            authEvents.push(e);
            const auth = e.headers?.Authorization ?? e.headers?.authorization;
            if (auth === 'Bearer good') {
              return {
                principalId: 'M1',
                policyDocument: {
                  Version: '2012-10-17',
                  Statement: [
                    { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: `${e.methodArn.split('/')[0]}/local/*` },
                  ],
                },
                context: { merchant_id: 'MERCHANT00001', key_kind: 'secret', key_id: 'key_1' },
              };
            }
            if (auth === 'Bearer denied') {
              return {
                principalId: 'M1',
                policyDocument: {
                  Version: '2012-10-17',
                  Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: '*' }],
                },
              };
            }
            throw new Error('Unauthorized');
          },
        };
      }
      return {
        handler: async (e: APIGatewayProxyEvent) => {
          events.push(e);
          return {
            statusCode: 207,
            headers: { 'X-Custom': 'yes', 'Content-Type': 'application/json' },
            body: JSON.stringify({ fn }),
          };
        },
      };
    },
  });
});
afterAll(() => gw.close());

describe('local gateway', () => {
  it('answers /health without a key and passes status, headers and body through', async () => {
    const r = await fetch(`${gw.url}/health`);
    expect(r.status).toBe(207);
    expect(r.headers.get('x-custom')).toBe('yes');
    expect(await r.json()).toEqual({ fn: 'health' });
  });

  it('builds a REST proxy event like API Gateway', async () => {
    const r = await fetch(`${gw.url}/v1/charges/ch_abc?limit=5&x=1&x=2`, {
      headers: { Authorization: 'Bearer good', 'X-Forwarded-For': '203.0.113.9' },
    });
    expect(r.status).toBe(207);
    const e = events.at(-1)!;
    expect(e.resource).toBe('/v1/charges/{id}');
    expect(e.path).toBe('/v1/charges/ch_abc');
    expect(e.httpMethod).toBe('GET');
    expect(e.pathParameters).toEqual({ id: 'ch_abc' });
    expect(e.queryStringParameters).toEqual({ limit: '5', x: '2' });
    expect(e.multiValueQueryStringParameters).toEqual({ limit: ['5'], x: ['1', '2'] });
    expect(e.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.requestContext.resourcePath).toBe('/v1/charges/{id}');
    expect(e.requestContext.stage).toBe('local');
    expect(e.requestContext.identity.sourceIp).toBe('127.0.0.1');
    expect(e.headers['X-Forwarded-For']).toBe('203.0.113.9, 127.0.0.1');
    expect(e.requestContext.authorizer).toMatchObject({
      merchant_id: 'MERCHANT00001',
      key_kind: 'secret',
      principalId: 'M1',
    });
    expect(e.body).toBeNull();
    expect(e.isBase64Encoded).toBe(false);
    expect(r.headers.get('x-amzn-requestid')).toBe(e.requestContext.requestId);
  });

  it('keeps duplicate headers in multiValueHeaders and the last one in headers', async () => {
    const h = new Headers();
    h.append('X-Dup', 'a');
    h.append('Authorization', 'Bearer good');
    await fetch(`${gw.url}/v1/charges`, { method: 'POST', headers: h, body: '{"a":1}' });
    const e = events.at(-1)!;
    expect(e.body).toBe('{"a":1}');
    expect(e.httpMethod).toBe('POST');
    expect(e.resource).toBe('/v1/charges');
  });

  it('refuses a missing identity source without calling the authorizer, with our error shape', async () => {
    const before = authEvents.length;
    const r = await fetch(`${gw.url}/v1/charges`);
    expect(r.status).toBe(401);
    const body = await r.json();
    expect(body.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    expect(body.error.request_id).toBe(r.headers.get('request-id'));
    expect(authEvents.length).toBe(before);
  });

  it('caches the authorizer answer per Authorization header, across routes', async () => {
    const before = authEvents.length;
    await fetch(`${gw.url}/v1/charges`, { headers: { Authorization: 'Bearer good' } });
    await fetch(`${gw.url}/v1/refunds`, { method: 'POST', headers: { Authorization: 'Bearer good' }, body: '{}' });
    expect(authEvents.length).toBe(before); // the earlier tests cached 'Bearer good'
    const r = await fetch(`${gw.url}/v1/charges`, { headers: { Authorization: 'Bearer bad' } });
    expect(r.status).toBe(401);
    expect(authEvents.length).toBe(before + 1);
    expect(authEvents.at(-1)!.type).toBe('REQUEST');
    expect(authEvents.at(-1)!.methodArn).toMatch(
      /^arn:aws:execute-api:us-east-1:\d{12}:local\/local\/GET\/v1\/charges$/,
    );
  });

  it('sends the REQUEST authorizer what API Gateway sends it: never the body', async () => {
    const before = authEvents.length;
    await fetch(`${gw.url}/v1/refunds`, {
      method: 'POST',
      headers: { Authorization: 'Bearer body-check', 'Content-Type': 'application/json' },
      body: '{"card":{"number":"4242424242424242"}}',
    });
    expect(authEvents.length).toBe(before + 1);
    const e = authEvents.at(-1)! as unknown as Record<string, unknown>;
    expect(e).not.toHaveProperty('body');
    expect(e).not.toHaveProperty('isBase64Encoded');
    expect(JSON.stringify(e)).not.toContain('4242424242424242');
    expect(Object.keys(e).sort()).toEqual(
      [
        'headers',
        'httpMethod',
        'methodArn',
        'multiValueHeaders',
        'multiValueQueryStringParameters',
        'path',
        'pathParameters',
        'queryStringParameters',
        'requestContext',
        'resource',
        'stageVariables',
        'type',
      ].sort(),
    );
  });

  it('answers a GET that carries bytes after Content-Length: 0, then refuses the bytes', async () => {
    const net = await import('node:net');
    const { port } = new URL(gw.url);
    const raw = await new Promise<string>((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1');
      let out = '';
      s.on('data', (d) => {
        out += d;
      });
      s.on('close', () => resolve(out));
      s.write('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n{"stray":"body"}');
    });
    expect(raw).toMatch(/^HTTP\/1\.1 207 /); // the GET's own answer (the fake handler's status)
    expect(raw).toContain('HTTP/1.1 400 Bad Request');
    expect(raw.indexOf('207')).toBeLessThan(raw.indexOf('400 Bad Request'));
  });

  it('a Deny policy is a 403 ACCESS_DENIED Gateway Response', async () => {
    const r = await fetch(`${gw.url}/v1/charges`, { headers: { Authorization: 'Bearer denied' } });
    expect(r.status).toBe(403);
    expect((await r.json()).error.type).toBe('permission_error');
  });

  it('FlushStageAuthorizersCache empties the cache', async () => {
    const before = authEvents.length;
    const f = await fetch(`${gw.url}/restapis/local/stages/local/cache/authorizers`, { method: 'DELETE' });
    expect(f.status).toBe(202);
    await fetch(`${gw.url}/v1/charges`, { headers: { Authorization: 'Bearer good' } });
    expect(authEvents.length).toBe(before + 1);
  });

  it('an unknown route or method answers like API Gateway', async () => {
    const r = await fetch(`${gw.url}/v2/nothing`);
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ message: 'Missing Authentication Token' });
    const m = await fetch(`${gw.url}/health`, { method: 'DELETE' });
    expect(m.status).toBe(403);
  });
});

describe('the local gateway’s own answers (as infra/api.ts installs them)', () => {
  it('carry Cache-Control: no-store and nosniff on every Gateway Response, DEFAULT_4XX included', async () => {
    const answers = [
      await fetch(`${gw.url}/v1/charges`), // UNAUTHORIZED
      await fetch(`${gw.url}/v1/charges`, { headers: { Authorization: 'Bearer denied' } }), // ACCESS_DENIED
      await fetch(`${gw.url}/v2/nothing`), // MISSING_AUTHENTICATION_TOKEN (DEFAULT_4XX)
    ];
    expect(answers.map((r) => r.status)).toEqual([401, 403, 403]);
    for (const r of answers) {
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      // This gateway has no storefront origins: no CORS, whatever the Origin.
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('name the one storefront origin for CORS and never echo another', async () => {
    const one = await startGateway({
      port: 0,
      storefrontOrigins: ['https://shop.example.com'],
      load: async () => ({
        handler: async () => {
          throw new Error('Unauthorized');
        },
      }),
    });
    try {
      const r = await fetch(`${one.url}/v1/charges`, {
        headers: { Authorization: 'Bearer x', Origin: 'https://evil.example' },
      });
      expect(r.status).toBe(401);
      expect(r.headers.get('access-control-allow-origin')).toBe('https://shop.example.com');
      expect(r.headers.get('vary')).toBe('Origin');
    } finally {
      await one.close();
    }
  });

  it('refuse web pages on the control plane (Lambda Invoke, the cache flush): 403, no CORS', async () => {
    for (const headers of [{ Origin: 'https://evil.example' }, { 'Sec-Fetch-Site': 'cross-site' }] as Record<
      string,
      string
    >[]) {
      const invoke = await fetch(`${gw.url}/2015-03-31/functions/reconciler/invocations`, {
        method: 'POST',
        headers,
        body: '{}',
      });
      expect(invoke.status).toBe(403);
      expect(invoke.headers.get('access-control-allow-origin')).toBeNull();
      const flush = await fetch(`${gw.url}/restapis/local/stages/local/cache/authorizers`, {
        method: 'DELETE',
        headers,
      });
      expect(flush.status).toBe(403);
    }
    // A tool (no Origin, no Sec-Fetch-Site; or one a user typed: `none`) is served.
    const tool = await fetch(`${gw.url}/restapis/local/stages/local/cache/authorizers`, {
      method: 'DELETE',
      headers: { 'Sec-Fetch-Site': 'none' },
    });
    expect(tool.status).toBe(202);
  });
});
