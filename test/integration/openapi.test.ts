// openapi.json against the implementation: the same routes as shared/routes.ts (method, path,
// key kind, Idempotency-Key), the same request fields as the valibot schemas, and live responses
// of the local platform that validate against the documented response schemas.
//
// The document is JSON, not YAML: no YAML parser is installed and the project takes no new
// dependency for one. The schema check below is a small structural validator (types, required,
// properties, additionalProperties, enum/const, pattern, bounds, anyOf/oneOf, $ref), enough for
// the subset of JSON Schema the document uses.

import { readFileSync } from 'node:fs';
import type * as v from 'valibot';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CaptureSchema,
  CreateChargeSchema,
  CreateSessionSchema,
  PaySessionSchema,
  RefundSchema,
} from '../../shared/payments/schemas';
import { routes } from '../../shared/routes';
import { TokenRequestSchema } from '../../shared/tokenize';
import { api, cardToken, newKey, newMerchant, type Res } from '../helpers/platform';

type Schema = Record<string, any>;
const doc: Schema = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function resolve(node: Schema): Schema {
  let n = node;
  for (let i = 0; n && typeof n.$ref === 'string'; i++) {
    if (i > 20) throw new Error(`$ref loop at ${node.$ref}`);
    const parts = (n.$ref as string).replace(/^#\//, '').split('/');
    n = parts.reduce<any>((at, p) => at?.[p.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    if (n === undefined) throw new Error(`unresolved $ref ${node.$ref}`);
  }
  return n;
}

function typeOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'number') return Number.isInteger(x) ? 'integer' : 'number';
  return typeof x;
}

/** Errors of `value` against `schema`, as JSON-pointer-ish paths; [] when it validates. */
function validate(value: unknown, node: Schema, at = '$'): string[] {
  const s = resolve(node);
  const errors: string[] = [];
  if (s.anyOf || s.oneOf) {
    const options: Schema[] = s.anyOf ?? s.oneOf;
    const passing = options.filter((o) => validate(value, o, at).length === 0).length;
    if (s.anyOf && passing === 0) errors.push(`${at}: matches none of anyOf`);
    if (s.oneOf && passing !== 1) errors.push(`${at}: matches ${passing} of oneOf`);
  }
  if (s.type !== undefined) {
    const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) {
      return [...errors, `${at}: expected ${types.join('|')}, got ${t}`];
    }
  }
  if ('const' in s && value !== s.const) errors.push(`${at}: expected ${JSON.stringify(s.const)}`);
  if (s.enum && !s.enum.includes(value)) errors.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if (typeof value === 'string') {
    if (s.pattern && !new RegExp(s.pattern, 'u').test(value)) errors.push(`${at}: does not match ${s.pattern}`);
    if (s.minLength !== undefined && value.length < s.minLength) errors.push(`${at}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && value.length > s.maxLength) errors.push(`${at}: longer than ${s.maxLength}`);
    if (s.format === 'date-time' && Number.isNaN(Date.parse(value))) errors.push(`${at}: not a date-time`);
    if (s.format === 'uri' && !URL.canParse(value)) errors.push(`${at}: not a URI`);
  }
  if (typeof value === 'number') {
    if (s.minimum !== undefined && value < s.minimum) errors.push(`${at}: below ${s.minimum}`);
    if (s.maximum !== undefined && value > s.maximum) errors.push(`${at}: above ${s.maximum}`);
  }
  if (Array.isArray(value) && s.items) {
    for (const [i, x] of value.entries()) errors.push(...validate(x, s.items, `${at}[${i}]`));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in obj)) errors.push(`${at}: missing ${r}`);
    for (const [k, x] of Object.entries(obj)) {
      if (s.properties?.[k]) errors.push(...validate(x, s.properties[k], `${at}.${k}`));
      else if (s.additionalProperties === false) errors.push(`${at}: unexpected ${k}`);
      else if (typeof s.additionalProperties === 'object')
        errors.push(...validate(x, s.additionalProperties, `${at}.${k}`));
    }
  }
  return errors;
}

const operation = (method: string, path: string): Schema | undefined => doc.paths?.[path]?.[method.toLowerCase()];

/** The documented schema of a live response: route found by the shared matcher, then status. */
function responseSchema(method: string, path: string, status: number): Schema {
  const route = routes.find((r) => r.method === method && matches(r.path, path));
  if (!route) throw new Error(`no route for ${method} ${path}`);
  const op = operation(route.method, route.path);
  if (!op) throw new Error(`${method} ${route.path} is not documented`);
  const response = op.responses?.[String(status)];
  if (!response) throw new Error(`${method} ${route.path} does not document ${status}`);
  const r = resolve(response);
  const schema = r.content?.['application/json']?.schema;
  if (!schema) throw new Error(`${method} ${route.path} ${status} has no JSON schema`);
  if (r.headers && !r.headers['Request-Id']) throw new Error(`${method} ${route.path} ${status} lacks Request-Id`);
  return schema;
}

function matches(template: string, path: string): boolean {
  const t = template.split('/');
  const p = path.split('?')[0]!.split('/');
  return t.length === p.length && t.every((seg, i) => (seg.startsWith('{') ? p[i] !== '' : seg === p[i]));
}

describe('openapi.json', () => {
  it('is an OpenAPI 3.1 document whose every $ref resolves', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const refs: string[] = [];
    const walk = (n: unknown): void => {
      if (Array.isArray(n)) n.forEach(walk);
      else if (n && typeof n === 'object') {
        for (const [k, x] of Object.entries(n)) {
          if (k === '$ref' && typeof x === 'string') refs.push(x);
          else walk(x);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const r of refs) expect(() => resolve({ $ref: r }), r).not.toThrow();
  });

  it('documents every route of shared/routes.ts, with the same method and path, and no other', () => {
    const implemented = routes.map((r) => `${r.method} ${r.path}`).sort();
    const documented = Object.entries(doc.paths as Schema)
      .flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(implemented);
  });

  it.each(routes.map((r) => [`${r.method} ${r.path}`, r] as const))(
    '%s: key kind, Idempotency-Key, path parameters',
    (_n, route) => {
      const op = operation(route.method, route.path)!;
      const schemes = (op.security ?? doc.security ?? []).flatMap((s: Schema) => Object.keys(s));
      if (route.key === 'secret') expect(schemes).toEqual(['secretKey']);
      else if (route.key === 'publishable') expect(schemes).toEqual(['publishableKey']);
      else expect(schemes).not.toEqual(expect.arrayContaining(['secretKey']));
      if (route.key !== 'none') expect(Object.keys(op.responses)).toContain('401');
      if (route.key === 'secret') expect(Object.keys(op.responses)).toContain('403');

      const params = (op.parameters ?? []).map(resolve);
      const idem = params.find((p: Schema) => p.in === 'header' && p.name === 'Idempotency-Key');
      if (route.idempotent) {
        expect(idem).toMatchObject({ required: true, schema: { minLength: 1, maxLength: 255 } });
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '409', '422', '502', '503', '504']));
      } else {
        expect(idem).toBeUndefined();
      }
      const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(params.filter((p: Schema) => p.in === 'path').map((p: Schema) => p.name)).toEqual(pathParams);
      for (const p of params.filter((x: Schema) => x.in === 'path')) expect(p.required).toBe(true);
    },
  );

  it.each([
    ['CreateChargeRequest', CreateChargeSchema],
    ['CaptureRequest', CaptureSchema],
    ['RefundRequest', RefundSchema],
    ['CreateCheckoutSessionRequest', CreateSessionSchema],
    ['PayCheckoutSessionRequest', PaySessionSchema],
    ['TokenRequest', TokenRequestSchema],
  ] as const)('%s has the fields of the handler’s schema, and refuses others', (name, schema) => {
    const documented = resolve({ $ref: `#/components/schemas/${name}` });
    const entries = (schema as unknown as v.ObjectSchema<v.ObjectEntries, undefined>).entries;
    expect(Object.keys(documented.properties).sort()).toEqual(Object.keys(entries).sort());
    expect(documented.additionalProperties).toBe(false);
    const required = Object.entries(entries)
      .filter(([, e]) => !['optional', 'nullish', 'nullable'].includes((e as { type: string }).type))
      .map(([k]) => k)
      .sort();
    expect([...(documented.required ?? [])].sort()).toEqual(required);
  });

  it('declares Cache-Control: no-store and X-Content-Type-Options: nosniff on every response', () => {
    for (const [path, item] of Object.entries(doc.paths as Schema)) {
      for (const m of METHODS.filter((x) => item[x])) {
        for (const [status, response] of Object.entries(item[m].responses as Schema)) {
          const headers = resolve(response as Schema).headers ?? {};
          expect(Object.keys(headers), `${m} ${path} ${status}`).toEqual(
            expect.arrayContaining(['Cache-Control', 'X-Content-Type-Options']),
          );
        }
      }
    }
  });

  it('documents every error code of the onboarding routes', () => {
    const text = JSON.stringify(doc.paths['/v1/oauth/callback']);
    for (const code of ['merchant_mismatch', 'invalid_state', 'merchant_check_failed', 'oauth_code_rejected']) {
      expect(text).toContain(code);
    }
    expect(doc.paths['/v1/oauth/launch'].get.responses['302']).toBeDefined();
  });

  it('documents the card-testing answers of the pay route', () => {
    const pay = doc.paths['/v1/checkout-sessions/{id}/pay'].post;
    expect(JSON.stringify(pay.responses['409'])).toContain('session_blocked');
    expect(JSON.stringify(pay.responses['400'])).toContain('customer_ip');
    expect(JSON.stringify(pay.responses['429'])).toContain('rate_limited');
    expect(resolve({ $ref: '#/components/schemas/PayCheckoutSessionRequest' }).properties.customer_ip).toBeUndefined();
  });

  it('documents the card fields of POST /v1/tokens as the handler reads them', () => {
    const card = resolve({ $ref: '#/components/schemas/TokenRequest' }).properties.card;
    const entries = (TokenRequestSchema.entries.card as unknown as v.ObjectSchema<v.ObjectEntries, undefined>).entries;
    expect(Object.keys(card.properties).sort()).toEqual(Object.keys(entries).sort());
  });
});

describe('the structural validator', () => {
  const charge = () => ({ $ref: '#/components/schemas/Charge' });
  it('fails a missing field, a wrong type, a bad enum and an unknown field where none are allowed', () => {
    expect(validate({ id: 'ch_1' }, charge())).toEqual(expect.arrayContaining(['$: missing amount']));
    expect(
      validate(
        { error: { type: 'card_error', code: 1, message: 'm', request_id: 'r' } },
        { $ref: '#/components/schemas/Error' },
      ),
    ).toEqual(['$.error.code: expected string, got integer']);
    expect(validate({ status: 'nope' }, { $ref: '#/components/schemas/Health' })).toEqual(['$.status: expected "ok"']);
    expect(validate({ amount: 1, extra: true }, { $ref: '#/components/schemas/CaptureRequest' })).toEqual([
      '$: unexpected extra',
    ]);
    expect(validate({ amount: 1.5 }, { $ref: '#/components/schemas/CaptureRequest' })).toEqual([
      '$.amount: expected integer, got number',
    ]);
  });
});

describe('live responses validate against the document', () => {
  let m: Awaited<ReturnType<typeof newMerchant>>;
  beforeAll(async () => {
    m = await newMerchant();
  });

  async function check(method: string, path: string, r: Res, status: number): Promise<void> {
    expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(status);
    expect(r.headers.get('request-id')).toBeTruthy();
    expect(r.headers.get('cache-control'), `${method} ${path} ${status}`).toBe('no-store');
    expect(r.headers.get('x-content-type-options'), `${method} ${path} ${status}`).toBe('nosniff');
    expect(validate(r.body, responseSchema(method, path, r.status)), `${method} ${path} ${status}`).toEqual([]);
  }

  it('health, checkout-config and tokens', async () => {
    await check('GET', '/health', await api('GET', '/health'), 200);
    await check('GET', '/v1/checkout-config', await api('GET', '/v1/checkout-config', { key: m.publishable_key }), 200);
    const card = { number: '4242424242424242', exp_month: '12', exp_year: '2040', cvv: '123' };
    await check('POST', '/v1/tokens', await api('POST', '/v1/tokens', { key: m.publishable_key, body: { card } }), 201);
    const bad = await api('POST', '/v1/tokens', { key: m.publishable_key, body: { card: { ...card, cvv: '1' } } });
    await check('POST', '/v1/tokens', bad, 400);
    await check('GET', '/v1/checkout-config', await api('GET', '/v1/checkout-config'), 401);
    await check('GET', '/v1/oauth/launch', await api('GET', '/v1/oauth/launch?merchant_id=nope'), 400);
    await check('GET', '/v1/oauth/callback', await api('GET', '/v1/oauth/callback'), 400);
    await check(
      'POST',
      '/v1/webhooks/clover',
      await api('POST', '/v1/webhooks/clover', { body: { merchants: {} } }),
      401,
    );
  });

  it('charges: create, decline, read, list, capture, errors', async () => {
    const post = (path: string, body: unknown) => api('POST', path, { key: m.secret_key, idem: newKey(), body });
    const made = await post('/v1/charges', {
      source: await cardToken('4242424242424242', m.publishable_key),
      amount: 1500,
      currency: 'usd',
      capture: false,
      description: 'openapi',
    });
    await check('POST', '/v1/charges', made, 201);
    const declined = await post('/v1/charges', {
      source: await cardToken('4005571702222222', m.publishable_key),
      amount: 1500,
      currency: 'usd',
    });
    await check('POST', '/v1/charges', declined, 402);
    await check('POST', '/v1/charges', await post('/v1/charges', { amount: 1.5 }), 400);
    await check('POST', '/v1/charges', await api('POST', '/v1/charges', { key: m.secret_key, body: {} }), 400);
    await check('POST', '/v1/charges', await api('POST', '/v1/charges', { key: m.publishable_key, body: {} }), 403);

    const id = made.body.id;
    await check('GET', `/v1/charges/${id}`, await api('GET', `/v1/charges/${id}`, { key: m.secret_key }), 200);
    const failed = declined.body.error.charge;
    await check('GET', `/v1/charges/${failed}`, await api('GET', `/v1/charges/${failed}`, { key: m.secret_key }), 200);
    await check('GET', '/v1/charges/ch_x', await api('GET', '/v1/charges/ch_x', { key: m.secret_key }), 404);
    await check('GET', '/v1/charges', await api('GET', '/v1/charges?limit=5', { key: m.secret_key }), 200);
    await check('GET', '/v1/charges', await api('GET', '/v1/charges?limit=0', { key: m.secret_key }), 400);

    await check('POST', `/v1/charges/${id}/capture`, await post(`/v1/charges/${id}/capture`, { amount: 1000 }), 200);
    await check('POST', `/v1/charges/${id}/capture`, await post(`/v1/charges/${id}/capture`, {}), 409);
    const reused = newKey();
    await post('/v1/refunds', { charge: id, amount: 1 });
    await api('POST', '/v1/refunds', { key: m.secret_key, idem: reused, body: { charge: id, amount: 2 } });
    const again = await api('POST', '/v1/refunds', {
      key: m.secret_key,
      idem: reused,
      body: { charge: id, amount: 3 },
    });
    await check('POST', '/v1/refunds', again, 422);
  });

  it('refunds', async () => {
    const made = await api('POST', '/v1/charges', {
      key: m.secret_key,
      idem: newKey(),
      body: { source: await cardToken('4242424242424242', m.publishable_key), amount: 900, currency: 'usd' },
    });
    const refund = (body: unknown) => api('POST', '/v1/refunds', { key: m.secret_key, idem: newKey(), body });
    await check('POST', '/v1/refunds', await refund({ charge: made.body.id, amount: 100, reason: 'duplicate' }), 201);
    await check('POST', '/v1/refunds', await refund({ charge: made.body.id }), 201);
    await check('POST', '/v1/refunds', await refund({ charge: made.body.id }), 409);
    await check('POST', '/v1/refunds', await refund({ charge: 'ch_nope' }), 404);
  });

  it('checkout sessions: create, read, pay, errors', async () => {
    const created = await api('POST', '/v1/checkout-sessions', {
      key: m.secret_key,
      body: { amount: 1200, currency: 'usd' },
    });
    await check('POST', '/v1/checkout-sessions', created, 201);
    const { id, client_secret } = created.body;
    await check(
      'GET',
      `/v1/checkout-sessions/${id}`,
      await api('GET', `/v1/checkout-sessions/${id}`, { key: m.secret_key }),
      200,
    );
    const pay = async (secret: string) =>
      api('POST', `/v1/checkout-sessions/${id}/pay`, {
        key: m.publishable_key,
        idem: newKey(),
        body: { client_secret: secret, source: await cardToken('4242424242424242', m.publishable_key) },
      });
    await check('POST', `/v1/checkout-sessions/${id}/pay`, await pay('wrong'), 404);
    await check('POST', `/v1/checkout-sessions/${id}/pay`, await pay(client_secret), 201);
    await check('POST', `/v1/checkout-sessions/${id}/pay`, await pay(client_secret), 409);
    await check(
      'GET',
      `/v1/checkout-sessions/${id}`,
      await api('GET', `/v1/checkout-sessions/${id}`, { key: m.secret_key }),
      200,
    );
  });
});
