/**
 * The Clover side of each money operation: how it is sent (with its Clover key, derived from the
 * operation's id, and our id in `metadata`), and how it is looked up when an answer proved nothing.
 * Every call takes its turn from the merchant's shared rate budget first (shared/clover/budget.ts)
 * and is made with the merchant's access token, refreshed once on a 401.
 */

import { noteRateLimited, takeTurn } from '../clover/budget';
import type { CloverResult } from '../clover/client';
import {
  type CloverCharge,
  type CloverRefund,
  captureCharge,
  createCharge,
  createRefund,
  getCloverCharge,
  listCloverCharges,
  listCloverRefunds,
} from '../clover/scl';
import { config } from '../config';
import { hooks } from '../hooks';
import { cloverIdempotencyKey } from '../idempotency';
import { withAccessToken } from '../merchant-context';
import type { CaptureRecord, ChargeRecord, RefundRecord } from '../store/ledger';
import { captureLookup, type Lookup } from './evidence';

/** How far before our own record's time a Clover charge list is searched (clocks differ). */
const LOOKUP_SKEW_MS = 10 * 60_000;
/** Pages of 100 read at most per lookup; a busier merchant's lookup is left to the next try. */
const LOOKUP_MAX_PAGES = 20;

export interface Call<T> {
  readonly answer: CloverResult<T>;
  /** Requests made: more than one (a 401, then the refreshed token) makes the operation a re-send. */
  readonly sends: number;
}

/** One Clover call for a merchant: its budget turn, its token (refreshed once on a 401). */
export async function callClover<T>(
  merchantId: string,
  deadline: number,
  send: (token: string, deadline: number) => Promise<CloverResult<T>>,
  opts: { turnTaken?: boolean } = {},
): Promise<Call<T>> {
  let sends = 0;
  const answer = await withAccessToken(merchantId, async (token) => {
    if (sends > 0 || !opts.turnTaken) await takeTurn(merchantId, waitBudget(deadline));
    sends++;
    return send(token, deadline);
  });
  if (answer.kind === 'clover_error' && answer.status === 429) await noteRateLimited(merchantId);
  return { answer, sends };
}

/** How long a call may wait for its turn: what is left of the request's time, less a second to send. */
export function waitBudget(deadline: number): number {
  return Math.min(config.cloverBudgetMaxWaitMs, Math.max(0, deadline - hooks.now() - 1000));
}

export function sendCharge(r: ChargeRecord, token: string, deadline: number): Promise<CloverResult<CloverCharge>> {
  return createCharge(
    {
      token,
      idempotencyKey: cloverIdempotencyKey(r.merchant_id, r.id),
      forwardedFor: r.forwarded_for,
      deadline,
    },
    {
      amount: r.amount,
      currency: r.currency,
      source: r.source_token,
      capture: r.capture,
      ...(r.description ? { description: r.description } : {}),
      ...(r.external_reference_id ? { external_reference_id: r.external_reference_id } : {}),
      metadata: { charge: r.id },
    },
  );
}

export function sendCapture(c: CaptureRecord, token: string, deadline: number): Promise<CloverResult<CloverCharge>> {
  return captureCharge(
    {
      token,
      idempotencyKey: cloverIdempotencyKey(c.merchant_id, c.id),
      forwardedFor: c.forwarded_for,
      deadline,
    },
    c.clover_charge_id,
    { amount: c.amount },
  );
}

export function sendRefund(r: RefundRecord, token: string, deadline: number): Promise<CloverResult<CloverRefund>> {
  return createRefund(
    { token, idempotencyKey: cloverIdempotencyKey(r.merchant_id, r.id), deadline },
    {
      charge: r.clover_charge_id,
      ...(r.whole ? {} : { amount: r.amount }),
      ...(r.reason ? { reason: r.reason } : {}),
      metadata: { refund: r.id, charge: r.charge },
    },
  );
}

/** Charges made for our charge `r`: Clover's list since it was recorded, matched on `metadata.charge`. */
export async function lookupCharge(
  r: ChargeRecord,
  deadline: number,
  settled: boolean,
  opts: { turnTaken?: boolean } = {},
): Promise<Lookup> {
  const found: unknown[] = [];
  let after: string | undefined;
  let turnTaken = opts.turnTaken ?? false;
  for (let page = 0; page < LOOKUP_MAX_PAGES; page++) {
    const { answer } = await callClover(
      r.merchant_id,
      deadline,
      (token, d) =>
        listCloverCharges(token, { createdGte: Date.parse(r.created) - LOOKUP_SKEW_MS, startingAfter: after }, d),
      { turnTaken },
    );
    turnTaken = false;
    if (answer.kind !== 'ok' || answer.nonJson || !Array.isArray(answer.body.data)) return { kind: 'failed' };
    for (const c of answer.body.data) if (c?.metadata?.charge === r.id) found.push(c);
    if (!answer.body.has_more || answer.body.data.length === 0) {
      return found.length > 0 ? { kind: 'found', objects: found } : { kind: 'absent', settled };
    }
    after = answer.body.data[answer.body.data.length - 1]?.id;
  }
  return found.length > 0 ? { kind: 'found', objects: found } : { kind: 'failed' };
}

/** A capture is looked up on its charge: captured (as asked), or not. */
export async function lookupCapture(
  c: CaptureRecord,
  deadline: number,
  settled: boolean,
  opts: { turnTaken?: boolean } = {},
): Promise<Lookup> {
  const { answer } = await callClover(
    c.merchant_id,
    deadline,
    (token, d) => getCloverCharge(token, c.clover_charge_id, d),
    opts,
  );
  if (answer.kind !== 'ok' || answer.nonJson || typeof answer.body?.id !== 'string') return { kind: 'failed' };
  return captureLookup(answer.body, settled);
}

/** Refunds made for our refund `r`: the charge's refunds at Clover, matched on `metadata.refund`. */
export async function lookupRefund(
  r: RefundRecord,
  deadline: number,
  settled: boolean,
  opts: { turnTaken?: boolean } = {},
): Promise<Lookup> {
  const found: unknown[] = [];
  let after: string | undefined;
  let turnTaken = opts.turnTaken ?? false;
  for (let page = 0; page < LOOKUP_MAX_PAGES; page++) {
    const { answer } = await callClover(
      r.merchant_id,
      deadline,
      (token, d) => listCloverRefunds(token, { charge: r.clover_charge_id, startingAfter: after }, d),
      { turnTaken },
    );
    turnTaken = false;
    if (answer.kind !== 'ok' || answer.nonJson || !Array.isArray(answer.body.data)) return { kind: 'failed' };
    for (const x of answer.body.data) if (x?.metadata?.refund === r.id) found.push(x);
    if (!answer.body.has_more || answer.body.data.length === 0) {
      return found.length > 0 ? { kind: 'found', objects: found } : { kind: 'absent', settled };
    }
    after = answer.body.data[answer.body.data.length - 1]?.id;
  }
  return found.length > 0 ? { kind: 'found', objects: found } : { kind: 'failed' };
}
