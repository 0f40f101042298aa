/**
 * What an answer from Clover proves about a money operation: the one place that decides it
 * (docs/money.md, "Evidence"). Charges, captures, refunds, session pays and the reconciler all
 * ask `evidenceOf`; none of them reads a Clover status on its own.
 *
 * The rule: an operation is resolved only on evidence of what Clover did —
 *  - `made`: a 2xx whose body says it happened, checked against what we asked for (status, id,
 *    amount, currency, capture flag, our id in `metadata`), or a lookup that finds it;
 *  - `declined`: a card decline answered to the *first* send of a charge, or a lookup that finds
 *    the charge failed;
 *  - `not_made`: Clover refused the *first* send as a request (`rejection`: nothing can have
 *    happened, and the refusal is the answer), or a settled lookup finds nothing (a re-send may follow);
 *  - `unknown`: everything else. A re-send's answer other than a checked 2xx proves nothing about
 *    what an earlier send did (clover-api.md §7.4: Clover may replay, reject the key, or treat the
 *    re-send as new), nor do 429, 401, 403, 409, 5xx, timeouts, dropped connections or a body
 *    that is not JSON, first send or not. `unknown` keeps the operation pending.
 *
 * A send is `first` when no earlier send of the operation can still take effect: the very first
 * send, or one made after a settled lookup found nothing. Anything else is a `resend`.
 */
import type { CloverResult } from '../clover/client';
import type { CloverCharge, CloverRefund } from '../clover/scl';

export type Operation = 'charge' | 'capture' | 'refund';
export type Attempt = 'first' | 'resend';

/** What we asked Clover for: its answer must say exactly this to count. */
export interface Expectation {
  readonly op: Operation;
  /** Our id, sent in `metadata` (charges: `charge`, refunds: `refund`); captures carry none. */
  readonly ourId: string;
  /** Charge: the amount; capture: the amount to capture; refund: the amount refunded. */
  readonly amount: number;
  /** Lower case. */
  readonly currency: string;
  /** Charge only: capture at once (`captured` must match). */
  readonly capture?: boolean;
  /** Capture and refund: the Clover charge they act on. */
  readonly cloverChargeId?: string;
}

/**
 * A lookup at Clover by our id: `found` lists what matched (charges or refunds whose metadata
 * names our id; for a capture, the charge itself); `absent` says whether the list has settled (no
 * send of the operation can still show up: docs/money.md, "List lag").
 */
export type Lookup =
  | { readonly kind: 'found'; readonly objects: readonly unknown[] }
  | { readonly kind: 'absent'; readonly settled: boolean }
  | { readonly kind: 'failed' };

/** Clover refused a first send as a request: our answer to the client. */
export interface Rejection {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly param?: string;
}

export type Evidence =
  | { readonly kind: 'made'; readonly object: CloverCharge | CloverRefund; readonly via: 'answer' | 'lookup' }
  | {
      readonly kind: 'declined';
      readonly declineCode?: string;
      readonly cloverChargeId?: string;
      readonly via: 'answer' | 'lookup';
    }
  | { readonly kind: 'not_made'; readonly rejection?: Rejection; readonly via: 'answer' | 'lookup' }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface EvidenceInput {
  readonly expect: Expectation;
  readonly attempt: Attempt;
  readonly answer?: CloverResult<unknown>;
  readonly lookup?: Lookup;
}

/** Clover error codes that, answered to a first send, mean the request was refused as it stood. */
const REJECTED: Record<string, { code: string; param?: string; status?: number }> = {
  token_already_used: { code: 'token_already_used', param: 'source' },
  resource_missing: { code: 'invalid_source', param: 'source' },
  invalid_request: { code: 'invalid_request' },
  amount_too_large: { code: 'amount_too_large', param: 'amount' },
  invalid_charge_amount: { code: 'invalid_amount', param: 'amount' },
  invalid_tax_amount: { code: 'invalid_request' },
  invalid_tip_amount: { code: 'invalid_request' },
  card_on_file_missing: { code: 'invalid_source', param: 'source' },
  charge_already_captured: { code: 'charge_already_captured', status: 409 },
  charge_already_refunded: { code: 'charge_already_refunded', status: 409 },
  expired_card: { code: 'expired_card', param: 'source' },
};

/** For captures and refunds, `resource_missing` is about the charge, not a card source. */
const REJECTED_ON_CHARGE: Record<string, { code: string; param?: string; status?: number }> = {
  resource_missing: { code: 'charge_not_found_at_clover', status: 409 },
};

export function evidenceOf(input: EvidenceInput): Evidence {
  const fromAnswer = input.answer ? answerEvidence(input.expect, input.attempt, input.answer) : null;
  const fromLookup = input.lookup ? lookupEvidence(input.expect, input.lookup) : null;
  const candidates = [fromAnswer, fromLookup].filter((e): e is Evidence => e !== null);
  if (candidates.length === 0) return { kind: 'unknown', reason: 'nothing to go on' };
  // Money that moved outweighs everything; then a decline, then a refusal, then a settled absence.
  return candidates.sort((a, b) => rank(b) - rank(a))[0]!;
}

function rank(e: Evidence): number {
  if (e.kind === 'made') return 4;
  if (e.kind === 'declined') return 3;
  if (e.kind === 'not_made') return e.rejection ? 2 : 1;
  return 0;
}

function answerEvidence(expect: Expectation, attempt: Attempt, answer: CloverResult<unknown>): Evidence {
  if (answer.kind === 'unknown') return { kind: 'unknown', reason: `no answer (${answer.reason})` };
  if (answer.kind === 'unreachable') return { kind: 'unknown', reason: 'Clover unreachable' };
  if (answer.nonJson) return { kind: 'unknown', reason: `HTTP ${answer.status} with a body that is not JSON` };
  if (answer.kind === 'ok') {
    if (matches(expect, answer.body)) return { kind: 'made', object: answer.body as CloverCharge, via: 'answer' };
    const failed = expect.op === 'charge' && attempt === 'first' ? failedCharge(expect, answer.body) : null;
    if (failed) return failed;
    return { kind: 'unknown', reason: `HTTP ${answer.status} whose body does not match the request` };
  }
  const { status, body } = answer;
  if (status === 429 || status === 401 || status === 403 || status === 409 || status >= 500) {
    return { kind: 'unknown', reason: `HTTP ${status}` };
  }
  if (attempt === 'resend') return { kind: 'unknown', reason: `HTTP ${status} to a re-send` };
  const code = body.error?.code ?? '';
  if (body.error?.type === 'idempotency_error') return { kind: 'unknown', reason: 'idempotency_error' };
  if (expect.op === 'charge' && (code === 'card_declined' || status === 402)) {
    return {
      kind: 'declined',
      via: 'answer',
      ...(declineCode(body) ? { declineCode: declineCode(body) } : {}),
      ...(typeof body.error?.charge === 'string' ? { cloverChargeId: body.error.charge } : {}),
    };
  }
  const known = (expect.op === 'charge' ? undefined : REJECTED_ON_CHARGE[code]) ?? REJECTED[code];
  if (!known || status < 400 || status >= 500 || status === 402) {
    // `processing_error`, `missing` and codes we do not know: Clover may still have done it.
    return { kind: 'unknown', reason: `HTTP ${status} ${code || 'without a code'}` };
  }
  return {
    kind: 'not_made',
    via: 'answer',
    rejection: {
      status: known.status ?? 400,
      code: known.code,
      message: safeMessage(body.error?.message ?? body.message ?? ''),
      ...(known.param ? { param: known.param } : {}),
    },
  };
}

function lookupEvidence(expect: Expectation, lookup: Lookup): Evidence {
  if (lookup.kind === 'failed') return { kind: 'unknown', reason: 'lookup failed' };
  if (lookup.kind === 'absent') {
    return lookup.settled ? { kind: 'not_made', via: 'lookup' } : { kind: 'unknown', reason: 'not listed yet' };
  }
  const made = lookup.objects.find((o) => matches(expect, o));
  if (made) return { kind: 'made', object: made as CloverCharge, via: 'lookup' };
  if (expect.op === 'charge') {
    const failed = lookup.objects.map((o) => failedCharge(expect, o)).find((e) => e !== null);
    if (failed) return { ...failed, via: 'lookup' };
  }
  return { kind: 'unknown', reason: 'found, but not as asked' };
}

/** A capture lookup reads the charge itself: `absent` when it is not captured, once that has settled. */
export function captureLookup(charge: CloverCharge, settled: boolean): Lookup {
  return !isTrue(charge.captured) && charge.status === 'succeeded'
    ? { kind: 'absent', settled }
    : { kind: 'found', objects: [charge] };
}

/** Does a Clover object say that exactly what we asked for happened? */
export function matches(expect: Expectation, body: unknown): boolean {
  if (!isRecord(body) || typeof body.id !== 'string' || body.id === '') return false;
  if (body.currency !== undefined || expect.op !== 'refund') {
    if (typeof body.currency !== 'string' || body.currency.toLowerCase() !== expect.currency) return false;
  }
  const meta = isRecord(body.metadata) ? body.metadata : null;
  switch (expect.op) {
    case 'charge':
      return (
        body.status === 'succeeded' &&
        isTrue(body.paid) &&
        num(body.amount) === expect.amount &&
        isTrue(body.captured) === (expect.capture ?? true) &&
        (meta?.charge === undefined || meta.charge === expect.ourId)
      );
    case 'capture':
      return (
        body.id === expect.cloverChargeId &&
        body.status === 'succeeded' &&
        isTrue(body.captured) &&
        num(body.amount_captured) === expect.amount
      );
    case 'refund':
      return (
        body.status === 'succeeded' &&
        body.charge === expect.cloverChargeId &&
        num(body.amount) === expect.amount &&
        (meta?.refund === undefined || meta.refund === expect.ourId)
      );
  }
}

/** A charge object that says it failed (a decline), for exactly our request. */
function failedCharge(expect: Expectation, body: unknown): Extract<Evidence, { kind: 'declined' }> | null {
  if (!isRecord(body) || typeof body.id !== 'string' || body.status !== 'failed') return null;
  if (num(body.amount) !== expect.amount) return null;
  if (typeof body.currency !== 'string' || body.currency.toLowerCase() !== expect.currency) return null;
  const meta = isRecord(body.metadata) ? body.metadata : null;
  if (meta?.charge !== undefined && meta.charge !== expect.ourId) return null;
  const code =
    typeof body.failure_code === 'string' && body.failure_code !== 'card_declined' ? body.failure_code : null;
  return { kind: 'declined', via: 'answer', cloverChargeId: body.id, ...(code ? { declineCode: code } : {}) };
}

function declineCode(body: { error?: { decline_code?: string; declineCode?: string } }): string | undefined {
  return body.error?.decline_code ?? body.error?.declineCode;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
/** Clover's examples print booleans as strings at times (clover-api.md §5.1). */
const isTrue = (x: unknown): boolean => x === true || x === 'true';
const num = (x: unknown): number | null =>
  typeof x === 'number' ? x : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : null;

/**
 * Clover's own messages are shown only when short and free of digit runs (never card data) and of
 * anything token- or key-like: Clover quotes ids back (`No such token: 'clv_…'`).
 */
export function safeMessage(m: string): string {
  return m.length > 0 && m.length <= 200 && !/\d{6,}|clv_|[A-Za-z0-9_-]{20,}/.test(m)
    ? m
    : 'Clover refused the request.';
}
