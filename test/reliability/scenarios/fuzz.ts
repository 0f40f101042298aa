/**
 * Scenario 4: bad input. fast-check generates at least FUZZ_RUNS requests per route — bodies
 * (random JSON, valid bodies with one to three fields broken, duplicate keys, deep nesting, huge
 * strings, wrong types, `__proto__`/`constructor` keys, bytes that are not UTF-8, planted card
 * numbers), headers (missing, malformed, duplicated keys and Idempotency-Keys, odd Content-Types),
 * queries and path ids — and sends them over HTTP to the gateway, eight at a time. Every answer
 * must be below 500 and, when an error, of the documented shape; no generated case may reach
 * Clover (cases that could be valid are filtered out by an independent reading of API.md, so the
 * emulator's request log must not grow).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { beforeAll, expect, it } from 'vitest';
import { luhnValid } from '../../../shared/card';
import { makeState } from '../../../shared/oauth/state';
import { accountingTest, ERROR_TYPES, expectCharges, finding, note, scenario } from '../common';
import { api, CARDS, CVV, cloverRequests, expYear, harness, type Merchant, onboard, type Res, token } from '../harness';
import { SENT_NUMBERS } from '../leaks';
import { activeScenario } from '../summary';

export const FUZZ_RUNS = Number(process.env.RELIABILITY_FUZZ_RUNS ?? 1000);
export const FUZZ_SEED = Number(process.env.RELIABILITY_SEED ?? 20_261_124);
const CONCURRENCY = 8;

interface Case {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string | string[]>;
  contentType?: string | false;
  body?: Buffer;
}

interface RouteSpec {
  name: string;
  arb: fc.Arbitrary<Case>;
}

/** The resources the fuzzed requests aim at: real ones, so that a valid request would act. */
interface Targets {
  m: Merchant;
  other: Merchant;
  auth: string;
  charge: string;
  session: { id: string; client_secret: string };
  clientId: string;
  clientSecret: string;
  webhookCode: string;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const obj = (entries: [string, string][]) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

// ---------------------------------------------------------------- values and bodies

const protoKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf');

/** Raw JSON text of a value that is wrong for nearly every field (card numbers among them when `plant`). */
const weirdValue = (plant: boolean): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'), weight: 4 },
    {
      arbitrary: fc.constantFrom(
        '1e308',
        '-0',
        '1.5',
        '-1',
        '0',
        '99999999999999999999',
        '100000000',
        '1e-7',
        'true',
        'null',
        '[]',
        '{}',
        '""',
        '"clv_"',
        '" "',
        '"\\u0000"',
        '"\\ud800"',
        '"usd\\u0000"',
        '"😀"',
        '"100"',
        '{"__proto__":{"amount":100}}',
        '{"constructor":{"prototype":{"x":1}}}',
      ),
      weight: 4,
    },
    { arbitrary: fc.string({ maxLength: 40 }).map((s) => JSON.stringify(s)), weight: 3 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s)), weight: 1 },
    { arbitrary: fc.integer({ min: 256, max: 15_000 }).map((n) => JSON.stringify('x'.repeat(n))), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: 200 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`), weight: 1 },
    { arbitrary: fc.constantFrom(...SENT_NUMBERS).map((n) => (plant ? JSON.stringify(n) : '"4111"')), weight: 1 },
    { arbitrary: fc.constantFrom(...SENT_NUMBERS).map((n) => (plant ? n : '4111')), weight: 1 },
  );

type Op =
  | { op: 'set'; key: string; value: string }
  | { op: 'drop'; key: string }
  | { op: 'add'; key: string; value: string }
  | { op: 'dup'; key: string; value: string; first: boolean };

/** A valid body (raw JSON per field) broken one to three ways. */
function mutated(template: Record<string, string>, extraFields: string[] = [], plant = true): fc.Arbitrary<string> {
  const fields = [...Object.keys(template), ...extraFields];
  const weird = weirdValue(plant);
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      arbitrary: fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...fields), value: weird }),
      weight: 6,
    },
    { arbitrary: fc.record({ op: fc.constant('drop' as const), key: fc.constantFrom(...fields) }), weight: 2 },
    {
      arbitrary: fc.record({
        op: fc.constant('add' as const),
        key: fc.oneof(
          protoKey,
          fc.string({ maxLength: 12 }),
          fc.constantFrom('AMOUNT', 'amount ', 'metadata', 'merchant_id'),
        ),
        value: weird,
      }),
      weight: 2,
    },
    {
      arbitrary: fc.record({
        op: fc.constant('dup' as const),
        key: fc.constantFrom(...fields),
        value: weird,
        first: fc.boolean(),
      }),
      weight: 1,
    },
  );
  return fc.array(op, { minLength: 1, maxLength: 3 }).map((ops) => {
    let entries: [string, string][] = Object.entries(template);
    for (const o of ops) {
      if (o.op === 'set') entries = [...entries.filter(([k]) => k !== o.key), [o.key, o.value]];
      else if (o.op === 'drop') entries = entries.filter(([k]) => k !== o.key);
      else if (o.op === 'add') entries = [...entries, [o.key, o.value]];
      else entries = o.first ? [[o.key, o.value], ...entries] : [...entries, [o.key, o.value]];
    }
    return obj(entries);
  });
}

/** Nesting just under the body limit: `{"a":{"a":…}}` and `[[[…]]]`, under a field name. */
const deep = (field: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.integer({ min: 50, max: 2900 }).map((d) => `{${JSON.stringify(field)}:${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`),
    fc.integer({ min: 50, max: 5400 }).map((d) => `{${JSON.stringify(field)}:${'['.repeat(d)}${']'.repeat(d)}}`),
    fc.integer({ min: 50, max: 2900 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
  );

/**
 * Any of the ways a body can be wrong, around a route's valid template. `plant` puts card numbers
 * in fields; off where a broken body can still be a valid request that stores what it was sent
 * (a checkout session's description is the merchant's text, stored as given).
 */
function bodyArb(template: Record<string, string>, extraFields: string[] = [], plant = true): fc.Arbitrary<Buffer> {
  const fields = [...Object.keys(template), ...extraFields];
  const valid = obj(Object.entries(template));
  const weird = weirdValue(plant);
  return fc.oneof(
    { arbitrary: mutated(template, extraFields, plant).map(utf8), weight: 12 },
    { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => utf8(JSON.stringify(v) ?? 'null')), weight: 2 },
    {
      arbitrary: fc
        .array(fc.tuple(fc.oneof(fc.constantFrom(...fields), protoKey), weird), { maxLength: 6 })
        .map((e) => utf8(obj(e))),
      weight: 3,
    },
    {
      arbitrary: fc
        .constantFrom(...fields)
        .chain(deep)
        .map(utf8),
      weight: 2,
    },
    {
      arbitrary: fc
        .integer({ min: 16 * 1024 + 1, max: 40_000 })
        .map((n) => utf8(obj([['description', JSON.stringify('d'.repeat(n))]]))),
      weight: 1,
    },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 300 }).map(utf8), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.uint8Array({ minLength: 1, maxLength: 24 }), fc.constantFrom(...fields))
        .map(([bytes, f]) =>
          Buffer.concat([
            utf8(`{"${f}":"`),
            Buffer.from([0xff, 0xfe, 0xc3, 0x28, ...bytes, 0xed, 0xa0, 0x80]),
            utf8('"}'),
          ]),
        ),
      weight: 1,
    },
    { arbitrary: fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)), weight: 1 },
    {
      arbitrary: fc.constantFrom(
        utf8(''),
        utf8(' '),
        utf8('null'),
        utf8('[]'),
        utf8('"x"'),
        utf8('1'),
        utf8(`\uFEFF${valid}`),
        utf8(`${valid}x`),
        utf8(`${valid}${valid}`),
        utf8(valid.replace(/"/g, "'")),
        utf8(`${valid.slice(0, -1)},}`),
        utf8(`/* c */${valid}`),
        utf8(valid.slice(0, Math.max(1, valid.length - 3))),
        utf8('{"amount":NaN}'),
        utf8('{"amount":Infinity}'),
      ),
      weight: 1,
    },
  );
}

// ---------------------------------------------------------------- headers

const contentType: fc.Arbitrary<string | false> = fc.oneof(
  { arbitrary: fc.constant('application/json'), weight: 10 },
  {
    arbitrary: fc.constantFrom<string | false>(
      false,
      'text/plain',
      'application/octet-stream',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-16',
      'multipart/form-data; boundary=x',
      'image/png',
    ),
    weight: 3,
  },
);

/** Header values node can send: printable ASCII, tab and Latin-1. */
const headerText = fc.string({
  unit: fc
    .integer({ min: 0x20, max: 0xff })
    .filter((c) => c < 0x7f || c > 0x9f)
    .map((c) => String.fromCharCode(c)),
  maxLength: 60,
});

function authArb(right: string, wrongKind: string): fc.Arbitrary<Record<string, string | string[]>> {
  return fc.oneof(
    { arbitrary: fc.constant({ Authorization: `Bearer ${right}` }), weight: 14 },
    {
      arbitrary: fc.constantFrom<Record<string, string | string[]>>(
        {},
        { Authorization: 'Bearer' },
        { Authorization: `Bearer ${right} x` },
        { Authorization: `bearer ${right}` },
        { Authorization: `Bearer  ${right}` },
        { Authorization: `Bearer ${right}\t` },
        { Authorization: `Bearer ${wrongKind}` },
        { Authorization: [`Bearer ${right}`, `Bearer ${right}`] },
        { Authorization: [`Bearer ${wrongKind}`, `Bearer ${right}`] },
        { Authorization: [`Bearer ${right}`, 'Bearer x'] },
        { authorization: `Bearer ${right}`, Authorization: `Bearer ${wrongKind}` },
        { Authorization: `Bearer ${right.slice(0, -1)}` },
        { Authorization: `Bearer ${right.toUpperCase()}` },
        { Authorization: `Basic ${Buffer.from(`${right}:`).toString('base64')}` },
      ),
      weight: 4,
    },
    { arbitrary: headerText.map((t) => ({ Authorization: t })), weight: 1 },
  );
}

const idemArb: fc.Arbitrary<Record<string, string | string[]>> = fc.oneof(
  { arbitrary: fc.uuid().map((u) => ({ 'Idempotency-Key': u })), weight: 12 },
  {
    arbitrary: fc.constantFrom<Record<string, string | string[]>>(
      {},
      { 'Idempotency-Key': '' },
      { 'Idempotency-Key': ' ' },
      { 'Idempotency-Key': 'k'.repeat(256) },
      { 'Idempotency-Key': 'k'.repeat(255) },
      { 'Idempotency-Key': 'clé' },
      { 'Idempotency-Key': 'a\tb' },
      { 'Idempotency-Key': 'fuzz-reused-key' },
      { 'Idempotency-Key': ['fuzz-dup-a', 'fuzz-dup-b'] },
      { 'idempotency-key': 'fuzz-lower', 'Idempotency-Key': 'fuzz-upper' },
    ),
    weight: 4,
  },
  { arbitrary: headerText.map((t) => ({ 'Idempotency-Key': t })), weight: 2 },
);

const extraHeaders: fc.Arbitrary<Record<string, string | string[]>> = fc.oneof(
  { arbitrary: fc.constant({}), weight: 8 },
  {
    arbitrary: fc.constantFrom<Record<string, string | string[]>>(
      { 'X-Forwarded-For': 'not-an-ip' },
      { 'X-Forwarded-For': ['1.2.3.4', '::1'] },
      { 'Content-Encoding': 'gzip' },
      { 'X-Clover-Auth': 'x' },
      { 'Request-Id': 'spoofed' },
      { Accept: 'text/html' },
      { 'X-Amzn-Trace-Id': 'Root=1-00000000-000000000000000000000000' },
    ),
    weight: 2,
  },
);

const merge = (...hs: Record<string, string | string[]>[]) =>
  Object.assign({}, ...hs) as Record<string, string | string[]>;

// ---------------------------------------------------------------- paths and queries

function idSegment(real: string, prefix: 'ch' | 'cs'): fc.Arbitrary<string> {
  const other = prefix === 'ch' ? 'cs' : 'ch';
  return fc.oneof(
    { arbitrary: fc.constant(real), weight: 8 },
    { arbitrary: fc.stringMatching(/^[0-9a-z]{23}$/).map((s) => `${prefix}_${s}`), weight: 2 },
    {
      arbitrary: fc
        .string({ minLength: 1, maxLength: 40 })
        .filter((s) => s !== '.' && s !== '..')
        .map(encodeURIComponent),
      weight: 2,
    },
    {
      arbitrary: fc.constantFrom(
        `${prefix}_`,
        '%00',
        `${prefix}_%00`,
        `${prefix}_${'a'.repeat(600)}`,
        '%2F',
        `${real}%2F`,
        `${real}%20`,
        `${real}%0A`,
        real.toUpperCase(),
        `${other}_${real.slice(3)}`,
        '%E2%82%AC',
        'null',
        'undefined',
        '__proto__',
        'constructor',
      ),
      weight: 3,
    },
  );
}

const queryValue = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '1',
    '10',
    '100',
    '101',
    '-1',
    '1.5',
    '1e2',
    ' 1',
    '0x10',
    '9'.repeat(30),
    'abc',
    'ch_',
    '[]',
  ),
  fc.string({ maxLength: 30 }),
);

function queryArb(names: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    {
      arbitrary: fc
        .array(fc.tuple(fc.oneof(fc.constantFrom(...names), fc.constantFrom('x', 'limit[]', 'Limit')), queryValue), {
          maxLength: 5,
        })
        .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')),
      weight: 6,
    },
    {
      arbitrary: fc.constantFrom('%ZZ=1', 'limit=%', '&&&', '=', 'limit', 'limit=1&limit=x', 'limit=%00', 'a=%E2%82'),
      weight: 1,
    },
  );
}

const withQuery = (path: string, q: string) => (q ? `${path}?${q}` : path);

// ---------------------------------------------------------------- what could be valid (independently of the code)

function parse(body: Buffer | undefined): unknown {
  if (!body || body.length === 0) return {};
  try {
    return JSON.parse(body.toString('utf8'), (k, v) => (k === '__proto__' ? undefined : v));
  } catch {
    return undefined;
  }
}
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isAmount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 99_999_999;

/** API.md §2.3's card checks, read independently: true when the card might be accepted. */
function cardMayBeValid(card: unknown): boolean {
  if (!isObj(card) || typeof card.number !== 'string' || typeof card.cvv !== 'string') return false;
  const digits = card.number.replace(/[ -]/g, '');
  if (!/^\d{12,19}$/.test(digits) || !luhnValid(digits)) return false;
  const month = Number(card.exp_month);
  if (!Number.isInteger(month) || month < 1 || month > 12) return false;
  const yearText = String(card.exp_year);
  if (!/^\d{2}$|^\d{4}$/.test(yearText)) return false;
  const year = yearText.length === 2 ? 2000 + Number(yearText) : Number(yearText);
  if (year < new Date().getUTCFullYear()) return false;
  return /^\d{3,4}$/.test(card.cvv);
}

// ---------------------------------------------------------------- the routes

function routeSpecs(t: Targets): RouteSpec[] {
  const sk = t.m.secret_key;
  const pk = t.m.publishable_key;
  const secretAuth = authArb(sk, pk);
  const publishableAuth = authArb(pk, sk);
  const post = (
    path: fc.Arbitrary<string>,
    auth: fc.Arbitrary<Record<string, string | string[]>>,
    idempotent: boolean,
    body: fc.Arbitrary<Buffer>,
  ): fc.Arbitrary<Case> =>
    fc
      .record({
        path,
        auth,
        idem: idempotent ? idemArb : fc.constant({}),
        extra: extraHeaders,
        contentType,
        body,
      })
      .map((c) => ({
        method: 'POST' as const,
        path: c.path,
        headers: merge(c.auth, c.idem, c.extra),
        contentType: c.contentType,
        body: c.body,
      }));
  const get = (path: fc.Arbitrary<string>, auth: fc.Arbitrary<Record<string, string | string[]>>): fc.Arbitrary<Case> =>
    fc
      .record({ path, auth, extra: extraHeaders })
      .map((c) => ({ method: 'GET' as const, path: c.path, headers: merge(c.auth, c.extra) }));

  const card = (number: string, cvv: string) => ({
    card: JSON.stringify({ number, exp_month: '12', exp_year: expYear(), cvv }),
  });
  const tokenTemplate = fc.constantFrom(card(CARDS.visa, CVV.visa), card(CARDS.amex, CVV.amex));
  const cardFields: Record<string, string> = {
    number: JSON.stringify(CARDS.visa),
    exp_month: '"12"',
    exp_year: JSON.stringify(expYear()),
    cvv: JSON.stringify(CVV.visa),
  };
  const tokenBodies = fc.oneof(
    { arbitrary: mutated(cardFields, ['brand', 'name', 'address_zip']).map((c) => utf8(`{"card":${c}}`)), weight: 6 },
    { arbitrary: tokenTemplate.chain((tpl) => bodyArb(tpl)), weight: 3 },
    {
      // Card data where it does not belong: as a key, as a number, spaced out, beside a bad expiry.
      arbitrary: fc
        .tuple(
          fc.constantFrom(...SENT_NUMBERS),
          fc.constantFrom('13', '0', '00', 'ab', '1.5'),
          fc.constantFrom('01', '2001', '99999'),
        )
        .map(([n, month, year]) =>
          utf8(
            JSON.stringify({
              card: { number: n.replace(/(\d{4})/g, '$1 ').trim(), exp_month: month, exp_year: year, cvv: CVV.visa },
            }),
          ),
        ),
      weight: 1,
    },
  );

  const chargeTemplate = { source: '"clv_1TSTfuzzfuzzfuzzfuzzfuzz"', amount: '1099', currency: '"usd"' };
  const sessionTemplate = { amount: '1099', currency: '"usd"' };

  return [
    {
      name: 'GET /health',
      arb: fc
        .record({ q: queryArb(['x', 'status']), auth: fc.option(secretAuth, { nil: {} }), extra: extraHeaders })
        .map((c) => ({ method: 'GET' as const, path: withQuery('/health', c.q), headers: merge(c.auth, c.extra) })),
    },
    {
      name: 'GET /v1/oauth/callback',
      arb: fc
        .record({
          merchant: fc.oneof(
            fc.constant(t.m.merchant_id),
            fc.stringMatching(/^[A-Z0-9]{13}$/),
            fc.string({ maxLength: 20 }),
            fc.constant(undefined),
          ),
          client: fc.oneof(
            fc.constant(t.clientId),
            fc.stringMatching(/^[A-Z0-9]{13}$/),
            fc.string({ maxLength: 20 }),
            fc.constant(undefined),
          ),
          code: fc.oneof(
            fc.constant(undefined),
            fc.constant(''),
            fc.string({ maxLength: 30 }),
            fc.integer({ min: 513, max: 3000 }).map((n) => 'c'.repeat(n)),
          ),
          // A launch state that is never genuine: random, forged (another key), expired, for another
          // merchant, overlong. It is checked before the code, so even a valid-looking code with it
          // must not reach Clover.
          state: fc.oneof(
            { arbitrary: fc.constant(undefined), weight: 3 },
            { arbitrary: fc.string({ maxLength: 80 }), weight: 2 },
            { arbitrary: fc.constant(makeState(t.m.merchant_id, 'not-the-app-secret')), weight: 1 },
            { arbitrary: fc.constant(makeState(t.m.merchant_id, t.clientSecret, Date.now() - 3_600_000)), weight: 1 },
            { arbitrary: fc.constant(makeState(t.other.merchant_id, t.clientSecret)), weight: 1 },
            { arbitrary: fc.integer({ min: 513, max: 2000 }).map((n) => `v1.${'s'.repeat(n)}.x`), weight: 1 },
          ),
          extra: queryArb(['merchant_id', 'client_id', 'code', 'state']),
        })
        .filter(
          (c) =>
            !(
              c.state === undefined &&
              c.client === t.clientId &&
              typeof c.merchant === 'string' &&
              /^[A-Z0-9]{13}$/.test(c.merchant) &&
              typeof c.code === 'string' &&
              c.code.length > 0 &&
              c.code.length <= 512
            ) &&
            // The foreign state is genuine for the other merchant: not with that merchant's id.
            !(c.merchant === t.other.merchant_id),
        )
        .map((c) => {
          const q = new URLSearchParams();
          if (c.merchant !== undefined) q.set('merchant_id', c.merchant);
          if (c.client !== undefined) q.set('client_id', c.client);
          if (c.code !== undefined) q.set('code', c.code);
          if (c.state !== undefined) q.set('state', c.state);
          const extra = c.extra && !/client_id|merchant_id|code|state/.test(c.extra) ? `&${c.extra}` : '';
          return { method: 'GET' as const, path: `/v1/oauth/callback?${q}${extra}`, headers: {} };
        }),
    },
    {
      name: 'GET /v1/oauth/launch',
      arb: fc
        .record({
          merchant: fc.oneof(
            fc.constant(t.m.merchant_id),
            fc.stringMatching(/^[A-Z0-9]{13}$/),
            fc.string({ maxLength: 20 }),
            fc.string({ unit: 'binary', maxLength: 20 }),
            fc.integer({ min: 14, max: 3000 }).map((n) => 'M'.repeat(n)),
            fc.constant(undefined),
          ),
          extra: queryArb(['merchant_id', 'client_id', 'redirect_uri', 'state']),
          headers: extraHeaders,
        })
        .map((c) => {
          const q = new URLSearchParams();
          if (c.merchant !== undefined) q.set('merchant_id', c.merchant);
          const extra = c.extra ? `&${c.extra}` : '';
          return { method: 'GET' as const, path: `/v1/oauth/launch?${q}${extra}`, headers: c.headers };
        }),
    },
    {
      name: 'POST /v1/webhooks/clover',
      arb: fc
        .record({
          auth: fc.oneof(
            { arbitrary: fc.constant({ 'X-Clover-Auth': t.webhookCode }), weight: 6 },
            {
              arbitrary: fc.constantFrom<Record<string, string | string[]>>(
                {},
                { 'X-Clover-Auth': '' },
                { 'X-Clover-Auth': t.webhookCode.slice(0, -1) },
                { 'X-Clover-Auth': `${t.webhookCode} ` },
                { 'X-Clover-Auth': t.webhookCode.toUpperCase() },
                { 'X-Clover-Auth': [t.webhookCode, 'wrong'] },
                { 'X-Clover-Auth': ['wrong', t.webhookCode] },
                { 'x-clover-auth': t.webhookCode, 'X-Clover-Auth': 'wrong' },
              ),
              weight: 3,
            },
            { arbitrary: headerText.map((v) => ({ 'X-Clover-Auth': v })), weight: 1 },
          ),
          contentType,
          body: fc.oneof(
            bodyArb({ verificationCode: '"abc"' }),
            bodyArb({
              appId: '"APP"',
              merchants: JSON.stringify({ ZZZZZZZZZZZZZ: [{ objectId: 'A:APP', type: 'DELETE', ts: 1 }] }),
            }),
            fc
              .record({
                merchants: fc.dictionary(
                  fc.oneof(
                    fc.stringMatching(/^[A-Z0-9]{13}$/).map((s) => `Q${s.slice(1)}`),
                    fc.string({ maxLength: 15 }),
                  ),
                  fc.array(
                    fc.record(
                      {
                        objectId: fc.oneof(
                          fc.constantFrom('A:APP', 'O:X', 'P:Y'),
                          fc.string({ maxLength: 10 }),
                          fc.integer(),
                        ),
                        type: fc.oneof(fc.constantFrom('DELETE', 'CREATE', 'UPDATE'), fc.jsonValue()),
                        ts: fc.oneof(fc.integer(), fc.double(), fc.string()),
                      },
                      { requiredKeys: [] },
                    ),
                    { maxLength: 4 },
                  ),
                  { maxKeys: 4 },
                ),
              })
              .map((b) => utf8(JSON.stringify(b))),
          ),
        })
        .map((c) => ({
          method: 'POST' as const,
          path: '/v1/webhooks/clover',
          headers: c.auth,
          contentType: c.contentType,
          body: c.body,
        })),
    },
    {
      name: 'GET /v1/checkout-config',
      arb: fc.record({ q: queryArb(['merchant_id']), auth: publishableAuth, extra: extraHeaders }).map((c) => ({
        method: 'GET' as const,
        path: withQuery('/v1/checkout-config', c.q),
        headers: merge(c.auth, c.extra),
      })),
    },
    {
      name: 'POST /v1/tokens',
      arb: post(fc.constant('/v1/tokens'), publishableAuth, false, tokenBodies).filter((c) => {
        const b = parse(c.body);
        return !(isObj(b) && cardMayBeValid(b.card));
      }),
    },
    {
      name: 'POST /v1/charges',
      arb: post(
        fc.constant('/v1/charges'),
        secretAuth,
        true,
        bodyArb(chargeTemplate, ['capture', 'description', 'external_reference_id', 'customer_ip']),
      ).filter((c) => {
        const b = parse(c.body);
        return !(isObj(b) && typeof b.source === 'string' && b.source.startsWith('clv_'));
      }),
    },
    {
      name: 'GET /v1/charges',
      arb: get(
        queryArb(['limit', 'starting_after', 'ending_before']).map((q) => withQuery('/v1/charges', q)),
        secretAuth,
      ),
    },
    {
      name: 'GET /v1/charges/{id}',
      arb: get(
        fc.tuple(idSegment(t.charge, 'ch'), queryArb(['expand'])).map(([id, q]) => withQuery(`/v1/charges/${id}`, q)),
        secretAuth,
      ),
    },
    {
      name: 'POST /v1/charges/{id}/capture',
      arb: post(
        idSegment(t.auth, 'ch').map((id) => `/v1/charges/${id}/capture`),
        secretAuth,
        true,
        bodyArb({ amount: '500' }),
      ).filter((c) => {
        const b = parse(c.body);
        const valid =
          isObj(b) && Object.keys(b).every((k) => k === 'amount') && (b.amount === undefined || isAmount(b.amount));
        return !(c.path === `/v1/charges/${t.auth}/capture` && valid);
      }),
    },
    {
      name: 'POST /v1/refunds',
      arb: post(
        fc.constant('/v1/refunds'),
        secretAuth,
        true,
        bodyArb({ charge: JSON.stringify(t.charge), amount: '100', reason: '"requested_by_customer"' }),
      ).filter((c) => {
        const b = parse(c.body);
        return !(isObj(b) && b.charge === t.charge);
      }),
    },
    {
      name: 'POST /v1/checkout-sessions',
      arb: post(
        fc.constant('/v1/checkout-sessions'),
        secretAuth,
        false,
        bodyArb(sessionTemplate, ['description', 'external_reference_id', 'capture'], false),
      ),
    },
    {
      name: 'GET /v1/checkout-sessions/{id}',
      arb: get(
        idSegment(t.session.id, 'cs').map((id) => `/v1/checkout-sessions/${id}`),
        secretAuth,
      ),
    },
    {
      name: 'POST /v1/checkout-sessions/{id}/pay',
      arb: post(
        idSegment(t.session.id, 'cs').map((id) => `/v1/checkout-sessions/${id}/pay`),
        publishableAuth,
        true,
        bodyArb({ client_secret: JSON.stringify(t.session.client_secret), source: '"clv_1TSTfuzzfuzzfuzzfuzzfuzz"' }, [
          'customer_ip',
        ]),
      ).filter((c) => {
        const b = parse(c.body);
        return !(
          isObj(b) &&
          b.client_secret === t.session.client_secret &&
          typeof b.source === 'string' &&
          b.source.startsWith('clv_')
        );
      }),
    },
  ];
}

// ---------------------------------------------------------------- running

function show(c: Case): string {
  const body = c.body ? c.body.toString('utf8') : '';
  return `${c.method} ${c.path.slice(0, 160)} ${JSON.stringify(c.headers).slice(0, 200)} ct=${String(c.contentType)} body(${c.body?.length ?? 0})=${JSON.stringify(body.slice(0, 160))}`;
}

interface RouteRun {
  statuses: Record<number, number>;
  failures: string[];
  unrouted: string[];
}

/** What is wrong with an answer, or null: a 5xx, or an error that is not of API.md §1.2's shape. */
function problemOf(r: Res): string | null {
  if (r.status >= 500) return '5xx';
  if (r.status < 400) return null;
  const e = r.body?.error;
  if (!e || typeof e !== 'object') return 'not the error shape';
  if (!(ERROR_TYPES as readonly string[]).includes(e.type)) return `unknown error type ${e.type}`;
  if (typeof e.code !== 'string' || typeof e.message !== 'string') return 'code or message missing';
  if (e.request_id !== r.headers['request-id']) return 'request_id is not the Request-Id header';
  if (/\n\s+at |Error:|undefined|\[object Object\]/.test(e.message)) return 'message leaks internals';
  return null;
}

function check(r: Res, c: Case, run: RouteRun): void {
  run.statuses[r.status] = (run.statuses[r.status] ?? 0) + 1;
  if (r.status === 403 && r.headers['x-amzn-errortype'] === 'MissingAuthenticationTokenException') {
    run.unrouted.push(`${c.method} ${c.path.slice(0, 80)}`);
    return;
  }
  const problem = problemOf(r);
  if (!problem) return;
  if (run.failures.length < 8) run.failures.push(`${problem}: ${show(c)} → ${r.status} ${r.text.slice(0, 300)}`);
  else run.failures.push(problem);
}

async function runRoute(spec: RouteSpec, seed: number): Promise<RouteRun & { cases: number }> {
  return runCases(fc.sample(spec.arb, { numRuns: FUZZ_RUNS, seed }));
}

async function runCases(cases: Case[]): Promise<RouteRun & { cases: number }> {
  const run: RouteRun = { statuses: {}, failures: [], unrouted: [] };
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      try {
        const r = await api(c.method, c.path, {
          headers: c.headers,
          ...(c.body !== undefined ? { raw: c.body, contentType: c.contentType ?? 'application/json' } : {}),
        });
        check(r, c, run);
      } catch (e) {
        run.failures.push(`no answer (${(e as Error).message}): ${show(c)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { ...run, cases: cases.length };
}

export function fuzz(): void {
  scenario('Bad input (fuzz)', () => {
    let t: Targets;
    let specs: RouteSpec[] = [];
    let total = 0;
    beforeAll(async () => {
      const [m, other] = await Promise.all([onboard(), onboard()]);
      const auth = await api('POST', '/v1/charges', {
        key: m.secret_key,
        idem: 'fuzz-auth',
        body: { source: await token(m), amount: 5000, currency: 'usd', capture: false },
      });
      const charge = await api('POST', '/v1/charges', {
        key: m.secret_key,
        idem: 'fuzz-charge',
        body: { source: await token(m), amount: 5000, currency: 'usd' },
      });
      const session = await api('POST', '/v1/checkout-sessions', {
        key: m.secret_key,
        body: { amount: 700, currency: 'usd' },
      });
      expect([auth.status, charge.status, session.status]).toEqual([201, 201, 201]);
      expectCharges(2);
      const p = harness().platform;
      t = {
        m,
        other,
        auth: auth.body.id,
        charge: charge.body.id,
        session: session.body,
        clientId: p.app.client_id,
        clientSecret: p.app.client_secret,
        webhookCode: p.app.webhook_auth_code,
      };
      specs = routeSpecs(t);
      note(
        `fast-check seed ${FUZZ_SEED} (RELIABILITY_SEED), ${FUZZ_RUNS} cases per route (RELIABILITY_FUZZ_RUNS), ${CONCURRENCY} at a time`,
      );
    });

    it('a cold container: bodies nested 2 000–2 600 levels deep (12–16 KB, under the body limit) on the idempotent routes', async () => {
      // Runs before anything else has warmed the handlers: how deep a recursion fits depends on
      // whether V8 has optimized the function yet, as in a fresh Lambda container.
      const targets: [string, string, string][] = [
        ['/v1/charges', t.m.secret_key, 'amount'],
        [`/v1/charges/${t.auth}/capture`, t.m.secret_key, 'amount'],
        ['/v1/refunds', t.m.secret_key, 'amount'],
        [`/v1/checkout-sessions/${t.session.id}/pay`, t.m.publishable_key, 'source'],
      ];
      const failed: string[] = [];
      let sent = 0;
      for (let d = 2000; d <= 2600; d += 50) {
        for (const [path, key, field] of targets) {
          const raw = `{${JSON.stringify(field)}:${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`;
          const r = await api('POST', path, { key, idem: `deep-${d}-${sent++}`, raw });
          if (r.status >= 500) {
            failed.push(
              `\`POST ${path}\` with Idempotency-Key and the ${raw.length}-byte body \`{"${field}":{"a":{"a":…(${d} levels)…}}}\` → \`${r.status} ${r.text.slice(0, 200)}\``,
            );
          } else {
            expect(r.status, r.text).toBe(400);
          }
        }
      }
      note(`cold deep-nesting probe: ${sent} requests, ${failed.length} answered 5xx`);
      for (const f of failed.slice(0, 4)) activeScenario().notes.push(`FAILED cold deep-nesting probe: ${f}`);
      expect(failed, 'a 5xx for a body the parser accepted').toEqual([]);
    });

    const names = [
      'GET /health',
      'GET /v1/oauth/callback',
      'POST /v1/webhooks/clover',
      'GET /v1/checkout-config',
      'POST /v1/tokens',
      'POST /v1/charges',
      'GET /v1/charges',
      'GET /v1/charges/{id}',
      'POST /v1/charges/{id}/capture',
      'POST /v1/refunds',
      'POST /v1/checkout-sessions',
      'GET /v1/checkout-sessions/{id}',
      'POST /v1/checkout-sessions/{id}/pay',
      // Added after the others, so that their seeds (FUZZ_SEED + index) stay what they were.
      'GET /v1/oauth/launch',
    ];
    it.each(names.map((n, i) => [n, i] as const))(
      '%s: every case answered below 500, errors in the documented shape, Clover never called',
      async (name, i) => {
        const spec = specs.find((s) => s.name === name)!;
        const relevant = (x: { merchant_id: string | null }) =>
          x.merchant_id === null || x.merchant_id === t.m.merchant_id || x.merchant_id === t.other.merchant_id;
        const before = (await cloverRequests('/')).filter(relevant).length;
        const started = Date.now();
        const run = await runRoute(spec, FUZZ_SEED + i);
        const after = (await cloverRequests('/')).filter(relevant);
        const cloverCalls = after.length - before;
        total += run.cases;
        const statuses = Object.entries(run.statuses)
          .map(([s, n]) => `${s}×${n}`)
          .join(' ');
        note(
          `${name}: ${run.cases} cases in ${((Date.now() - started) / 1000).toFixed(1)} s → ${statuses}; Clover calls: ${cloverCalls}`,
        );
        if (run.unrouted.length > 0) {
          finding(
            `${name}: ${run.unrouted.length} request(s) whose id segment is not decodable (e.g. \`${run.unrouted[0]}\`) are answered by the gateway itself with 403 \`{"message":"Missing Authentication Token"}\` — not the error shape of API.md §1.2 (API Gateway's default MISSING_AUTHENTICATION_TOKEN response; infra/api.ts installs no Gateway Response for it).`,
          );
        }
        for (const f of run.failures.slice(0, 8)) activeScenario().notes.push(`FAILED ${name}: ${f}`);
        expect(run.failures.slice(0, 8), `${name}: ${run.failures.length} failing case(s)`).toEqual([]);
        expect(
          cloverCalls,
          `${name}: Clover calls for invalid input ${JSON.stringify(after.slice(before).slice(0, 3))}`,
        ).toBe(0);
        expect(run.cases).toBe(FUZZ_RUNS);
      },
    );

    it('edge sweep, on every route that takes a body: nesting depths up to the 16 KiB limit, the limit itself', async () => {
      const posts: [string, string, 'secret' | 'publishable', boolean, string][] = [
        ['POST /v1/tokens', '/v1/tokens', 'publishable', false, 'card'],
        ['POST /v1/charges', '/v1/charges', 'secret', true, 'amount'],
        ['POST /v1/charges/{id}/capture', `/v1/charges/${t.auth}/capture`, 'secret', true, 'amount'],
        ['POST /v1/refunds', '/v1/refunds', 'secret', true, 'amount'],
        ['POST /v1/checkout-sessions', '/v1/checkout-sessions', 'secret', false, 'amount'],
        [
          'POST /v1/checkout-sessions/{id}/pay',
          `/v1/checkout-sessions/${t.session.id}/pay`,
          'publishable',
          true,
          'source',
        ],
        ['POST /v1/webhooks/clover', '/v1/webhooks/clover', 'secret', false, 'merchants'],
      ];
      const bodies = (field: string): string[] => {
        const out: string[] = [];
        for (let d = 1000; d <= 2900; d += 50) {
          out.push(`{${JSON.stringify(field)}:${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`);
          out.push(`${'{"a":'.repeat(d)}1${'}'.repeat(d)}`);
        }
        for (let d = 1000; d <= 5600; d += 200) out.push(`{${JSON.stringify(field)}:${'['.repeat(d)}${']'.repeat(d)}}`);
        const pad = (n: number) => {
          const head = `{${JSON.stringify(field)}:1,"description":"`;
          return `${head}${'d'.repeat(n - head.length - 2)}"}`;
        };
        out.push(pad(16 * 1024), pad(16 * 1024 + 1));
        return out;
      };
      const cases: Case[] = posts.flatMap(([, path, kind, idem, field]) =>
        bodies(field).map((b) => ({
          method: 'POST' as const,
          path,
          headers: {
            Authorization: `Bearer ${kind === 'secret' ? t.m.secret_key : t.m.publishable_key}`,
            ...(idem ? { 'Idempotency-Key': `sweep-${Math.random().toString(36).slice(2)}` } : {}),
            ...(path === '/v1/webhooks/clover' ? { 'X-Clover-Auth': t.webhookCode } : {}),
          },
          body: utf8(b),
        })),
      );
      const relevant = (x: { merchant_id: string | null }) =>
        x.merchant_id === null || x.merchant_id === t.m.merchant_id;
      const before = (await cloverRequests('/')).filter(relevant).length;
      const run = await runCases(cases);
      const cloverCalls = (await cloverRequests('/')).filter(relevant).length - before;
      const statuses = Object.entries(run.statuses)
        .map(([st, n]) => `${st}×${n}`)
        .join(' ');
      note(
        `edge sweep: ${run.cases} cases (nesting 1000–5600 deep, bodies of 16 384 and 16 385 bytes) → ${statuses}; Clover calls: ${cloverCalls}`,
      );
      for (const f of run.failures.slice(0, 8)) activeScenario().notes.push(`FAILED edge sweep: ${f}`);
      expect(run.failures.slice(0, 8), `edge sweep: ${run.failures.length} failing case(s)`).toEqual([]);
      expect(cloverCalls).toBe(0);
    });

    it('in a fresh process (a cold container), whatever nesting the body parser accepts, the idempotency hash can hash', async () => {
      // How deep a recursion fits depends on whether V8 has optimized the function yet; a fresh
      // process measures it the way a new Lambda container meets it, whatever ran before here.
      const script = join(mkdtempSync(join(tmpdir(), 'cpf-nesting-')), 'nesting.mts');
      writeFileSync(
        script,
        `import { parseJsonObject } from ${JSON.stringify(resolve('shared/http/request.ts'))};
import { requestHash } from ${JSON.stringify(resolve('shared/idempotency.ts'))};
const nested = (d) => '{"amount":' + '{"a":'.repeat(d) + '1' + '}'.repeat(d) + '}';
const out = { deepest: 0, broken: [] };
const parse = (d) => { try { return parseJsonObject({ body: nested(d), isBase64Encoded: false }); } catch { return null; } };
for (let d = 100; d <= 3000; d += 25) if (parse(d)) out.deepest = d;
// Deepest first: the first hash is the one a cold container computes.
for (let d = out.deepest; d >= 100; d -= 25) {
  const body = parse(d);
  try { requestHash('POST /v1/charges', {}, body); } catch (e) { out.broken.push(d + ' levels (' + nested(d).length + ' bytes): ' + e.name); }
}
console.log(JSON.stringify(out));
`,
      );
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], {
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      });
      rmSync(dirname(script), { recursive: true, force: true });
      const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { deepest: number; broken: string[] };
      if (out.broken.length > 0) {
        activeScenario().notes.push(
          `FAILED: in a fresh process parseJsonObject accepts bodies nested up to ${out.deepest} levels; requestHash (canonicalJson, recursive) throws RangeError from ${out.broken[0]} (${out.broken.length} of the depths tried)`,
        );
      }
      expect(out.broken, `parseJsonObject accepts up to ${out.deepest} levels; requestHash throws at`).toEqual([]);
    });

    it('query parameters and headers named like Object.prototype members (__proto__, constructor, …)', async () => {
      const failed: string[] = [];
      for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
        for (const [what, send] of [
          [`GET /v1/charges?${name}=1`, () => api('GET', `/v1/charges?${name}=1`, { key: t.m.secret_key })],
          [`GET /health?${name}=1`, () => api('GET', `/health?${name}=1`)],
          [`GET /health with header ${name}`, () => api('GET', '/health', { headers: { [name]: '1' } })],
        ] as const) {
          const r = await send();
          if (r.status >= 500) failed.push(`\`${what}\` → \`${r.status} ${r.text.slice(0, 100)}\``);
          else if (r.status >= 400) expect(r.body.error?.request_id, what).toBe(r.headers['request-id']);
        }
      }
      if (failed.length > 0) {
        finding(
          `The local gateway answers 502 \`{"message":"Internal server error"}\` to ${failed.length} of 12 requests whose query parameter or header is named like an Object.prototype member: local/gateway.ts buildEvent does \`multiValueQueryStringParameters[k] = [...(multi[k] ?? []), v]\` (and the same for headers) on plain objects, so \`multi['constructor']\` is Object and spreading it throws (TypeError). API Gateway itself has no such problem; the handlers never see these requests.`,
          failed.slice(0, 3).join('; '),
        );
      }
    });

    it('sent the cases it says it sent', () => {
      expect(total).toBe(FUZZ_RUNS * names.length);
    });

    accountingTest(() => [t.m.merchant_id, t.other.merchant_id]);
  });
}
