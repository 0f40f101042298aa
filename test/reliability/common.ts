/**
 * What every scenario shares: its describe block (which begins and ends its row of the summary),
 * the check of an error body against API.md §1.2, the ledger-against-Clover accounting, and the
 * record of findings.
 *
 * Findings are deviations from the documented contract that are not money-safety failures (a 500
 * where a 503 is documented, an error body of the wrong shape from the gateway itself). They are
 * listed in the summary and fail the run only with RELIABILITY_STRICT=1; double charges, lost
 * records, leaks and 5xx answers to bad input always fail it.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUnresolved } from '../../shared/store/ledger';
import { cloverCharges, harness, merchantItems, type Res, reconcile } from './harness';
import { leaksIn } from './leaks';
import { activeScenario, beginScenario, endScenario, type ScenarioRow } from './summary';

export const ERROR_TYPES = [
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'card_error',
  'idempotency_error',
  'rate_limit_error',
  'api_error',
] as const;

export const STRICT = process.env.RELIABILITY_STRICT === '1';

/** A describe block that is one row of the summary. */
export function scenario(name: string, body: () => void): void {
  describe(name, () => {
    beforeAll(() => {
      beginScenario(name, harness().output.mark());
    });
    body();
    afterAll(() => {
      const row = activeScenario();
      endScenario(harness().output.since(row.outputMark));
    });
  });
}

const seen = new Map<string, { row: ScenarioRow; index: number; count: number; text: string }>();

/**
 * Records a contract deviation on the running scenario (it fails the run only in strict mode).
 * The same finding seen again is counted, not repeated; `example` (the exact response) is kept
 * from its first sighting.
 */
export function finding(text: string, example?: string): void {
  const row = activeScenario();
  const known = seen.get(text);
  if (known) {
    known.count++;
    known.row.findings[known.index] = `${known.text} (seen ${known.count} times)`;
  } else {
    const full = example ? `${text} ${example}` : text;
    seen.set(text, { row, index: row.findings.length, count: 1, text: full });
    row.findings.push(full);
  }
  if (STRICT) expect.fail(`finding: ${text} ${example ?? ''}`);
}

export const note = (text: string) => activeScenario().notes.push(text);
export const expectCharges = (n: number) => {
  activeScenario().expectedCharges += n;
};

/** The body of an error answer: `{error: {type, code, message, request_id}}`, request_id = Request-Id. */
export function expectErrorShape(r: Res, what: string): void {
  expect(r.body?.error, `${what}: ${r.status} ${r.text.slice(0, 300)}`).toBeTypeOf('object');
  const e = r.body.error;
  expect(ERROR_TYPES, `${what}: type ${r.text.slice(0, 300)}`).toContain(e.type);
  expect(e.code, `${what}: code`).toEqual(expect.any(String));
  expect(e.message, `${what}: message`).toEqual(expect.any(String));
  expect(e.request_id, `${what}: request_id`).toBe(r.headers['request-id']);
  expect(e.message, `${what}: message`).not.toMatch(/\n\s+at |Error:|undefined|\[object Object\]/);
}

/** Exactly the response, for a finding: status, body. */
export const exact = (r: Res) => `${r.status} ${r.text.slice(0, 400)}`;

/** One short line per response for a finding or a note. */
export function describeRes(method: string, path: string, r: Res): string {
  return `\`${method} ${path}\` → \`${exact(r)}\``;
}

/** Runs the reconciler until nothing is left that it can resolve now. */
export async function reconcileAll(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const report = await reconcile();
    if (!report.examined || !report.resolved) return;
  }
}

/**
 * Quiescence for the accounting: the reconciler until nothing it examines is left unresolved. An
 * operation whose request still holds its lease (a Lambda that outlived a dependency outage) is
 * taken only once the lease runs out, so unresolved items are waited for — 60 s at most.
 */
async function reconcileUntilQuiet(): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const report = await reconcile();
    const unresolved = Number(report.examined ?? 0) - Number(report.resolved ?? 0);
    if (!report.examined || unresolved <= 0 || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export interface Accounting {
  cloverCharges: number;
  lost: string[];
  pending: string[];
}

/**
 * The ledger against Clover, for these merchants, after the reconciler ran: every charge Clover
 * made has a ledger record that names it, and agrees with it on capture and refunds; every ledger
 * charge that says Clover made it exists at Clover; nothing is left pending.
 */
export async function account(merchantIds: string[]): Promise<Accounting> {
  await reconcileUntilQuiet();
  const out: Accounting = { cloverCharges: 0, lost: [], pending: [] };
  for (const id of merchantIds) {
    const [clover, ledger, refunds, captures] = await Promise.all([
      cloverCharges(id),
      merchantItems(id, 'CHARGE#'),
      merchantItems(id, 'REFUND#'),
      merchantItems(id, 'CAPTURE#'),
    ]);
    out.cloverCharges += clover.length;
    for (const c of clover) {
      const l = ledger.find((x) => x.clover?.charge_id === c.id);
      if (!l) {
        out.lost.push(`Clover charge ${c.id} (${c.amount}, ${c.status}) of ${id} has no ledger record`);
        continue;
      }
      const capturedAtClover = c.captured === true || c.captured === 'true';
      if (l.status === 'succeeded' && l.captured !== capturedAtClover) {
        out.lost.push(`${l.id}: captured ${l.captured} in the ledger, ${capturedAtClover} at Clover`);
      }
      const refundedAtClover = Number(c.amount_refunded ?? 0);
      if (l.status === 'canceled') {
        if (!c.refunded && refundedAtClover === 0) out.lost.push(`${l.id}: canceled in the ledger, not at Clover`);
      } else if (l.status === 'succeeded' && Number(l.amount_refunded) !== refundedAtClover) {
        out.lost.push(`${l.id}: ${l.amount_refunded} refunded in the ledger, ${refundedAtClover} at Clover`);
      }
    }
    for (const l of ledger) {
      if (isUnresolved(l.status)) out.pending.push(`${l.id} ${l.status} (${id})`);
      if (l.clover?.charge_id && !clover.some((c) => c.id === l.clover.charge_id)) {
        out.lost.push(`${l.id} names Clover charge ${l.clover.charge_id}, which Clover does not have`);
      }
    }
    for (const r of refunds) if (isUnresolved(r.status)) out.pending.push(`${r.id} ${r.status} (${id})`);
    // A capture is an operation of its own (cp_…), recorded pending before Clover is called.
    for (const c of captures) if (isUnresolved(c.status)) out.pending.push(`capture ${c.id} ${c.status} (${id})`);
  }
  return out;
}

/**
 * The last test of a scenario: its merchants' ledgers against Clover (charges made = expected, no
 * record lost, nothing left pending) and the platform's output during the scenario free of card data.
 */
export function accountingTest(merchants: () => string[]): void {
  it('ends with every Clover charge in the ledger, none pending, as many as expected, and no card data in any output', async () => {
    const row: ScenarioRow = activeScenario();
    const a = await account(merchants());
    row.cloverCharges = a.cloverCharges;
    row.lost = a.lost.length;
    row.pendingLeft = a.pending.length;
    for (const l of a.lost) row.notes.push(`lost: ${l}`);
    for (const p of a.pending) row.notes.push(`still pending: ${p}`);
    const outputLeaks = leaksIn(harness().output.since(row.outputMark));
    expect(a.lost, 'records lost').toEqual([]);
    expect(a.pending, 'pending after the reconciler').toEqual([]);
    expect(a.cloverCharges, 'charges at Clover').toBe(row.expectedCharges);
    expect(row.leaks, 'card data in responses').toEqual([]);
    expect(outputLeaks, 'card data in the platform output').toEqual([]);
  });
}

let amount = 1000;
/** A fresh amount: it tells one request's Clover charge from the others of its merchant. */
export const nextAmount = () => ++amount;
