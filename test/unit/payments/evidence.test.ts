/**
 * What a Clover answer proves (shared/payments/evidence.ts): every row of the table in
 * docs/money.md ("Evidence"), then the properties the money core rests on, with fast-check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CloverResult } from '../../../shared/clover/client';
import {
  type Attempt,
  type Evidence,
  type Expectation,
  evidenceOf,
  type Lookup,
  matches,
} from '../../../shared/payments/evidence';

const CH = 'ch_0000000000000000000000a';
const RE = 're_0000000000000000000000a';
const CP = 'cp_0000000000000000000000a';
const CLOVER = 'ABCDEFGHJKMNP';

const expects: Record<'charge' | 'capture' | 'refund', Expectation> = {
  charge: { op: 'charge', ourId: CH, amount: 1099, currency: 'usd', capture: true },
  capture: { op: 'capture', ourId: CP, amount: 700, currency: 'usd', cloverChargeId: CLOVER },
  refund: { op: 'refund', ourId: RE, amount: 400, currency: 'usd', cloverChargeId: CLOVER },
};

/** What Clover answers when it did exactly what was asked. */
const madeBody: Record<keyof typeof expects, Record<string, unknown>> = {
  charge: {
    id: CLOVER,
    object: 'charge',
    amount: 1099,
    currency: 'usd',
    status: 'succeeded',
    paid: true,
    captured: true,
    metadata: { charge: CH },
  },
  capture: {
    id: CLOVER,
    object: 'charge',
    amount: 1000,
    amount_captured: 700,
    currency: 'usd',
    status: 'succeeded',
    paid: true,
    captured: true,
  },
  refund: {
    id: 'REFUNDXXXXXXX',
    object: 'refund',
    amount: 400,
    charge: CLOVER,
    currency: 'usd',
    status: 'succeeded',
    metadata: { refund: RE, charge: CH },
  },
};

const ok = (body: unknown, nonJson = false): CloverResult<unknown> =>
  nonJson ? { kind: 'ok', status: 200, body, nonJson: true } : { kind: 'ok', status: 200, body };
const err = (status: number, code?: string, type?: string): CloverResult<unknown> => ({
  kind: 'clover_error',
  status,
  body: code
    ? { message: 'm', error: { code, message: 'Refused.', ...(type ? { type } : {}) } }
    : { message: `${status}` },
});
const declined = (): CloverResult<unknown> => ({
  kind: 'clover_error',
  status: 402,
  body: {
    message: 'Declined',
    error: { code: 'card_declined', message: 'Declined', charge: 'FAILEDCHARGE1', decline_code: 'do_not_honor' },
  },
});

const kindOf = (e: Evidence) =>
  e.kind === 'not_made' ? (e.rejection ? 'not_made:rejected' : 'not_made:absent') : e.kind;

type Row = [op: keyof typeof expects, attempt: Attempt, label: string, answer: CloverResult<unknown>, expected: string];

const everyOp = ['charge', 'capture', 'refund'] as const;
const rows: Row[] = [];
for (const op of everyOp) {
  for (const attempt of ['first', 'resend'] as const) {
    rows.push([op, attempt, 'a checked 2xx', ok(madeBody[op]), 'made']);
    rows.push([op, attempt, 'a 2xx that is not JSON', ok({ message: '<html>OK</html>' }, true), 'unknown']);
    rows.push([
      op,
      attempt,
      'a 2xx for another amount',
      ok({ ...madeBody[op], amount: 1, amount_captured: 1 }),
      'unknown',
    ]);
    rows.push([op, attempt, 'a 2xx in another currency', ok({ ...madeBody[op], currency: 'cad' }), 'unknown']);
    rows.push([op, attempt, 'a 2xx without an id', ok({ ...madeBody[op], id: undefined }), 'unknown']);
    rows.push([op, attempt, 'a 2xx with status pending', ok({ ...madeBody[op], status: 'pending' }), 'unknown']);
    for (const status of [429, 401, 403, 409, 500, 502, 503, 504]) {
      rows.push([op, attempt, `HTTP ${status}`, err(status), 'unknown']);
    }
    rows.push([op, attempt, 'a timeout', { kind: 'unknown', reason: 'timeout' }, 'unknown']);
    rows.push([op, attempt, 'a dropped connection', { kind: 'unknown', reason: 'connection' }, 'unknown']);
    rows.push([op, attempt, 'a refused connection', { kind: 'unreachable' }, 'unknown']);
    rows.push([op, attempt, 'idempotency_error', err(400, 'invalid_request', 'idempotency_error'), 'unknown']);
    rows.push([op, attempt, 'processing_error', err(400, 'processing_error'), 'unknown']);
    rows.push([op, attempt, 'missing', err(400, 'missing'), 'unknown']);
    rows.push([
      op,
      attempt,
      'a 4xx that is not JSON',
      { ...(err(400) as object), nonJson: true } as CloverResult<unknown>,
      'unknown',
    ]);
    const rejected = attempt === 'first' ? 'not_made:rejected' : 'unknown';
    rows.push([op, attempt, 'token_already_used', err(400, 'token_already_used'), rejected]);
    rows.push([op, attempt, 'resource_missing', err(404, 'resource_missing'), rejected]);
    rows.push([op, attempt, 'amount_too_large', err(400, 'amount_too_large'), rejected]);
    rows.push([op, attempt, 'charge_already_captured', err(400, 'charge_already_captured'), rejected]);
    rows.push([op, attempt, 'charge_already_refunded', err(400, 'charge_already_refunded'), rejected]);
    rows.push([op, attempt, 'invalid_request', err(400, 'invalid_request'), rejected]);
    rows.push([op, attempt, 'a code we do not know', err(400, 'something_new'), 'unknown']);
    rows.push([
      op,
      attempt,
      'a card decline',
      declined(),
      op === 'charge' && attempt === 'first' ? 'declined' : 'unknown',
    ]);
  }
}
// Charge-only rows.
rows.push([
  'charge',
  'first',
  'a 2xx whose charge failed',
  ok({ ...madeBody.charge, status: 'failed', paid: false, captured: false }),
  'declined',
]);
rows.push([
  'charge',
  'resend',
  'a 2xx whose charge failed',
  ok({ ...madeBody.charge, status: 'failed', paid: false, captured: false }),
  'unknown',
]);
rows.push(['charge', 'first', 'a 2xx not paid', ok({ ...madeBody.charge, paid: false }), 'unknown']);
rows.push([
  'charge',
  'first',
  'a 2xx captured when we asked for an authorisation',
  ok({ ...madeBody.charge, captured: false }),
  'unknown',
]);
rows.push([
  'charge',
  'first',
  'a 2xx naming another charge of ours',
  ok({ ...madeBody.charge, metadata: { charge: 'ch_other' } }),
  'unknown',
]);
rows.push([
  'charge',
  'first',
  'a 2xx with booleans as strings',
  ok({ ...madeBody.charge, paid: 'true', captured: 'true' }),
  'made',
]);
rows.push([
  'charge',
  'first',
  'a decline with status 400',
  { ...(declined() as object), status: 400 } as CloverResult<unknown>,
  'declined',
]);
rows.push([
  'capture',
  'first',
  'a 2xx for another charge',
  ok({ ...madeBody.capture, id: 'OTHERCHARGE01' }),
  'unknown',
]);
rows.push(['capture', 'first', 'a 2xx not captured', ok({ ...madeBody.capture, captured: false }), 'unknown']);
rows.push([
  'refund',
  'first',
  'a 2xx of another charge',
  ok({ ...madeBody.refund, charge: 'OTHERCHARGE01' }),
  'unknown',
]);
rows.push([
  'refund',
  'first',
  'a 2xx naming another refund of ours',
  ok({ ...madeBody.refund, metadata: { refund: 're_other' } }),
  'unknown',
]);

describe('evidenceOf: what an answer proves', () => {
  it.each(rows)('%s, %s send, %s → %s', (op, attempt, _label, answer, expected) => {
    expect(kindOf(evidenceOf({ expect: expects[op], attempt, answer }))).toBe(expected);
  });

  it('keeps what a decline says: its code and the failed charge', () => {
    expect(evidenceOf({ expect: expects.charge, attempt: 'first', answer: declined() })).toEqual({
      kind: 'declined',
      via: 'answer',
      declineCode: 'do_not_honor',
      cloverChargeId: 'FAILEDCHARGE1',
    });
  });

  it('answers a refusal with our code and a message that quotes no token', () => {
    const answer: CloverResult<unknown> = {
      kind: 'clover_error',
      status: 400,
      body: { error: { code: 'token_already_used', message: "No such token: 'clv_1TSTabcdefghijklmnopqrst'" } },
    };
    expect(evidenceOf({ expect: expects.charge, attempt: 'first', answer })).toEqual({
      kind: 'not_made',
      via: 'answer',
      rejection: { status: 400, code: 'token_already_used', message: 'Clover refused the request.', param: 'source' },
    });
  });
});

type LookupRow = [op: keyof typeof expects, label: string, lookup: Lookup, expected: string];
const lookupRows: LookupRow[] = [];
for (const op of everyOp) {
  lookupRows.push([op, 'finds it as asked', { kind: 'found', objects: [madeBody[op]] }, 'made']);
  lookupRows.push([
    op,
    'finds something else',
    { kind: 'found', objects: [{ ...madeBody[op], amount: 1, amount_captured: 1 }] },
    'unknown',
  ]);
  lookupRows.push([op, 'finds nothing, settled', { kind: 'absent', settled: true }, 'not_made:absent']);
  lookupRows.push([op, 'finds nothing, not settled', { kind: 'absent', settled: false }, 'unknown']);
  lookupRows.push([op, 'fails', { kind: 'failed' }, 'unknown']);
}
lookupRows.push([
  'charge',
  'finds it failed',
  { kind: 'found', objects: [{ ...madeBody.charge, status: 'failed', paid: false, captured: false }] },
  'declined',
]);
lookupRows.push([
  'charge',
  'finds it failed and made (a re-send made it)',
  { kind: 'found', objects: [{ ...madeBody.charge, status: 'failed', paid: false, captured: false }, madeBody.charge] },
  'made',
]);

describe('evidenceOf: what a lookup proves', () => {
  it.each(lookupRows)('%s: a lookup that %s → %s', (op, _label, lookup, expected) => {
    expect(kindOf(evidenceOf({ expect: expects[op], attempt: 'resend', lookup }))).toBe(expected);
  });

  it('prefers money that moved: a lookup that finds it outweighs any answer', () => {
    for (const op of everyOp) {
      const e = evidenceOf({
        expect: expects[op],
        attempt: 'resend',
        answer: err(400, 'charge_already_refunded'),
        lookup: { kind: 'found', objects: [madeBody[op]] },
      });
      expect(e).toMatchObject({ kind: 'made', via: 'lookup' });
    }
  });
});

// Arbitrary Clover answers, biased towards the shapes that matter.
const anyStatus = fc.oneof(
  fc.constantFrom(200, 201, 400, 401, 402, 403, 404, 409, 429, 500, 502, 503, 504),
  fc.integer({ min: 100, max: 599 }),
);
const anyCode = fc.constantFrom(
  'card_declined',
  'token_already_used',
  'resource_missing',
  'charge_already_captured',
  'charge_already_refunded',
  'amount_too_large',
  'invalid_request',
  'processing_error',
  'missing',
  'rate_limit',
  'x',
);
const anyBody = fc.oneof(
  fc.constantFrom(...Object.values(madeBody)),
  fc.record({
    id: fc.oneof(fc.constant(CLOVER), fc.string()),
    amount: fc.oneof(fc.constantFrom(1099, 700, 400), fc.integer()),
    amount_captured: fc.oneof(fc.constantFrom(700), fc.integer()),
    currency: fc.constantFrom('usd', 'USD', 'cad', 'eur'),
    status: fc.constantFrom('succeeded', 'failed', 'pending', 'weird'),
    paid: fc.constantFrom(true, false, 'true'),
    captured: fc.constantFrom(true, false, 'true', 'false'),
    charge: fc.constantFrom(CLOVER, 'OTHER'),
    metadata: fc.constantFrom({ charge: CH }, { refund: RE }, { charge: 'ch_x' }, null),
  }),
  fc.record({
    message: fc.string(),
    error: fc.record({
      code: anyCode,
      type: fc.constantFrom(undefined, 'idempotency_error', 'card_error'),
      message: fc.string(),
    }),
  }),
  fc.jsonValue(),
);
const anyAnswer: fc.Arbitrary<CloverResult<unknown>> = fc.oneof(
  fc.record({ status: anyStatus, body: anyBody, nonJson: fc.boolean() }).map(({ status, body, nonJson }) => {
    const base =
      status >= 200 && status < 300
        ? { kind: 'ok' as const, status, body }
        : { kind: 'clover_error' as const, status, body: (body ?? {}) as object };
    return (nonJson ? { ...base, nonJson: true } : base) as CloverResult<unknown>;
  }),
  fc.constantFrom<CloverResult<unknown>>(
    { kind: 'unknown', reason: 'timeout' },
    { kind: 'unknown', reason: 'connection' },
    { kind: 'unreachable' },
  ),
);
const anyOp = fc.constantFrom(...everyOp);
const anyLookup: fc.Arbitrary<Lookup> = fc.oneof(
  fc.constantFrom<Lookup>({ kind: 'absent', settled: true }, { kind: 'absent', settled: false }, { kind: 'failed' }),
  fc.array(anyBody, { maxLength: 3 }).map((objects) => ({ kind: 'found' as const, objects })),
);

describe('evidenceOf: properties', () => {
  it('a re-send never turns unknown into not_made (nor into a decline): only a settled lookup can', () => {
    fc.assert(
      fc.property(anyOp, anyAnswer, fc.option(anyLookup, { nil: undefined }), (op, answer, lookup) => {
        const e = evidenceOf({ expect: expects[op], attempt: 'resend', answer, ...(lookup ? { lookup } : {}) });
        if (e.kind === 'not_made') expect(lookup).toEqual({ kind: 'absent', settled: true });
        if (e.kind === 'declined') expect(e.via).toBe('lookup');
      }),
    );
  });

  it('a 429, 401, 403, 5xx, timeout, lost connection or non-JSON 2xx is never made or not_made', () => {
    const proveNothing = anyAnswer.filter(
      (a) =>
        a.kind === 'unknown' ||
        a.kind === 'unreachable' ||
        (a.kind === 'ok' && a.nonJson === true) ||
        (a.kind === 'clover_error' && (a.status === 429 || a.status === 401 || a.status === 403 || a.status >= 500)),
    );
    fc.assert(
      fc.property(anyOp, fc.constantFrom<Attempt>('first', 'resend'), proveNothing, (op, attempt, answer) => {
        const e = evidenceOf({ expect: expects[op], attempt, answer });
        expect(['made', 'not_made']).not.toContain(e.kind);
      }),
    );
  });

  it('a 2xx counts as made only when status, id, amount and currency say exactly what was asked', () => {
    fc.assert(
      fc.property(anyOp, fc.constantFrom<Attempt>('first', 'resend'), anyAnswer, (op, attempt, answer) => {
        const e = evidenceOf({ expect: expects[op], attempt, answer });
        if (e.kind !== 'made') return;
        expect(answer.kind).toBe('ok');
        const b = e.object as unknown as Record<string, unknown>;
        expect(matches(expects[op], b)).toBe(true);
        expect(typeof b.id).toBe('string');
        expect(b.status).toBe('succeeded');
        if (op === 'capture') expect(Number(b.amount_captured)).toBe(expects[op].amount);
        else expect(Number(b.amount)).toBe(expects[op].amount);
        if (op !== 'refund' || b.currency !== undefined) expect(String(b.currency).toLowerCase()).toBe('usd');
      }),
    );
  });

  it('a lookup never loses evidence of money that moved: made stays made whatever is added', () => {
    fc.assert(
      fc.property(
        anyOp,
        fc.constantFrom<Attempt>('first', 'resend'),
        anyAnswer,
        anyLookup,
        (op, attempt, answer, lookup) => {
          const alone = evidenceOf({ expect: expects[op], attempt, answer });
          const both = evidenceOf({ expect: expects[op], attempt, answer, lookup });
          if (alone.kind === 'made') expect(both.kind).toBe('made');
        },
      ),
    );
  });

  it('only a charge is ever declined', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('capture', 'refund' as const),
        fc.constantFrom<Attempt>('first', 'resend'),
        anyAnswer,
        anyLookup,
        (op, attempt, answer, lookup) => {
          expect(evidenceOf({ expect: expects[op], attempt, answer, lookup }).kind).not.toBe('declined');
        },
      ),
    );
  });
});
