/**
 * What must hold for a merchant at quiescence (faults cleared, the reconciler run until nothing is
 * pending), read from the ledger (DynamoDB) and from what Clover (the emulator) actually did:
 *  - nothing is left pending: no unresolved operation, index entry, lock or reservation;
 *  - every Clover charge has exactly one ledger charge (by the id we sent in metadata), agreeing on
 *    what happened, captured and refunded; no ledger charge says something Clover did not do (no
 *    stray `failed` record beside a charge Clover made);
 *  - refunded ≤ captured, at Clover and in the ledger; every Clover refund has its ledger refund;
 *  - a checkout session is paid at most once, and its shopper charged at most once;
 *  - every idempotent replay equals the first definitive answer of its key;
 *  - no card number anywhere.
 */
import { leaksIn } from '../reliability/leaks';

export interface Answer {
  status: number;
  body: string;
  replayed: boolean;
  crashed: boolean;
}

type Item = Record<string, any>;

export interface Observed {
  ledger: Item[];
  cloverCharges: Item[];
  cloverRefunds: Item[];
  answers: Map<string, Answer[]>;
  logs: string;
}

const UNRESOLVED = new Set(['pending', 'needs_attention']);
/** Refusals of a first send: Clover made nothing, and the ledger says so. */
const REFUSED = new Set([
  'token_already_used',
  'invalid_source',
  'invalid_request',
  'amount_too_large',
  'invalid_amount',
  'charge_already_captured',
  'charge_already_refunded',
  'expired_card',
  'charge_not_found_at_clover',
]);

export function check(o: Observed): string[] {
  const v: string[] = [];
  const of = (prefix: string) => o.ledger.filter((i) => String(i.sk).startsWith(prefix));
  const charges = new Map(of('CHARGE#').map((c) => [String(c.id), c]));
  const captures = of('CAPTURE#');
  const refunds = of('REFUND#');
  const sessions = of('SESSION#');

  // Nothing left pending.
  for (const r of [...charges.values(), ...captures, ...refunds]) {
    if (UNRESOLVED.has(r.status)) v.push(`${r.id} is left ${r.status}`);
    if (r.pending_shard !== undefined || r.pending_due !== undefined) v.push(`${r.id} is still in the pending index`);
  }
  for (const c of charges.values()) {
    if (c.capture_lock) v.push(`${c.id} keeps a capture lock (${c.capture_lock})`);
    if (c.amount_refund_pending !== 0) v.push(`${c.id} keeps ${c.amount_refund_pending} reserved for refunds`);
  }
  for (const s of sessions) if (s.pay_lock) v.push(`session ${s.id} stays locked to ${s.pay_lock}`);

  // Clover → ledger: every charge Clover has is ours, once, and the ledger agrees with it.
  const atClover = new Map<string, Item[]>();
  for (const cc of o.cloverCharges) {
    const ours = cc.metadata?.charge;
    if (typeof ours !== 'string') {
      v.push(`Clover charge ${cc.id} carries none of our ids`);
      continue;
    }
    atClover.set(ours, [...(atClover.get(ours) ?? []), cc]);
  }
  for (const [ours, list] of atClover) {
    const rec = charges.get(ours);
    if (!rec) {
      v.push(`Clover has charge(s) ${list.map((c) => c.id).join(', ')} for ${ours}, which the ledger does not have`);
      continue;
    }
    if (list.length > 1)
      v.push(`Clover has ${list.length} charges for ${ours}: ${list.map((c) => `${c.id}:${c.status}`).join(', ')}`);
    const made = list.filter((c) => c.status === 'succeeded');
    if (made.length > 0 && !['succeeded', 'canceled'].includes(rec.status)) {
      v.push(`${ours} is ${rec.status} (${rec.failure_code ?? ''}) in the ledger, but Clover made it (${made[0]!.id})`);
    }
    if (made.length === 0 && rec.status !== 'failed') v.push(`${ours} is ${rec.status}, but Clover's charge failed`);
    if (made.length === 0 && rec.status === 'failed' && rec.failure_code !== 'card_declined') {
      v.push(`${ours} failed as ${rec.failure_code}, but Clover declined it`);
    }
  }

  // Ledger → Clover, and the amounts.
  for (const rec of charges.values()) {
    const list = atClover.get(rec.id) ?? [];
    const cc = list.find((c) => c.id === rec.clover?.charge_id);
    if (rec.status === 'succeeded' || rec.status === 'canceled') {
      if (!cc) {
        v.push(`${rec.id} is ${rec.status} in the ledger, but Clover has no such charge (${rec.clover?.charge_id})`);
        continue;
      }
      if (cc.status !== 'succeeded') v.push(`${rec.id} succeeded in the ledger, Clover's ${cc.id} is ${cc.status}`);
      if (Boolean(rec.captured) !== Boolean(cc.captured))
        v.push(`${rec.id}: captured ${rec.captured} here, ${cc.captured} at Clover`);
      if (rec.amount_captured !== cc.amount_captured) {
        v.push(`${rec.id}: ${rec.amount_captured} captured here, ${cc.amount_captured} at Clover`);
      }
      const canceledAtClover = !cc.captured && cc.refunded === true;
      if ((rec.status === 'canceled') !== canceledAtClover)
        v.push(`${rec.id}: ${rec.status} here, voided=${canceledAtClover} at Clover`);
      if (cc.captured && rec.amount_refunded !== cc.amount_refunded) {
        v.push(`${rec.id}: ${rec.amount_refunded} refunded here, ${cc.amount_refunded} at Clover`);
      }
      if (cc.captured && cc.amount_refunded > cc.amount_captured)
        v.push(`Clover refunded more than it captured on ${cc.id}`);
      if (!cc.captured && cc.amount_refunded !== 0 && cc.amount_refunded !== cc.amount)
        v.push(`Clover partly voided ${cc.id}`);
    } else if (rec.status === 'failed') {
      if (rec.failure_code === 'card_declined' && !list.some((c) => c.status === 'failed')) {
        v.push(`${rec.id} was declined in the ledger, but Clover has no failed charge for it`);
      }
      if (rec.failure_code !== 'card_declined' && !REFUSED.has(rec.failure_code)) {
        v.push(`${rec.id} failed as ${rec.failure_code}, which is no refusal: a stray failed record`);
      }
    }
    if (rec.amount_refunded > rec.amount_captured)
      v.push(`${rec.id}: ledger refunded ${rec.amount_refunded} of ${rec.amount_captured} captured`);
    const refundedHere = refunds
      .filter((r) => r.charge === rec.id && r.status === 'succeeded' && !r.is_void)
      .reduce((s, r) => s + r.amount, 0);
    if (refundedHere !== rec.amount_refunded)
      v.push(`${rec.id}: refunds add up to ${refundedHere}, the charge says ${rec.amount_refunded}`);
  }

  // Refunds.
  const refundsAtClover = new Map<string, Item[]>();
  for (const cr of o.cloverRefunds) {
    const ours = cr.metadata?.refund;
    if (typeof ours !== 'string') v.push(`Clover refund ${cr.id} carries none of our ids`);
    else refundsAtClover.set(ours, [...(refundsAtClover.get(ours) ?? []), cr]);
  }
  const refundsById = new Map(refunds.map((r) => [String(r.id), r]));
  for (const [ours, list] of refundsAtClover) {
    const rec = refundsById.get(ours);
    if (list.length > 1) v.push(`Clover made ${list.length} refunds for ${ours}`);
    if (!rec) v.push(`Clover refund ${list[0]!.id} for ${ours}, which the ledger does not have`);
    else if (rec.status !== 'succeeded')
      v.push(`${ours} is ${rec.status} in the ledger, but Clover refunded it (${list[0]!.id})`);
    else if (rec.amount !== list[0]!.amount) v.push(`${ours}: ${rec.amount} here, ${list[0]!.amount} at Clover`);
  }
  for (const r of refunds) {
    if (r.status === 'succeeded' && !(refundsAtClover.get(r.id) ?? []).some((x) => x.id === r.clover?.refund_id)) {
      v.push(`${r.id} succeeded in the ledger, but Clover has no refund ${r.clover?.refund_id}`);
    }
  }

  // Captures.
  for (const c of charges.values()) {
    const won = captures.filter((x) => x.charge === c.id && x.status === 'succeeded');
    if (won.length > 1) v.push(`${c.id} has ${won.length} succeeded captures`);
    if (won[0] && (!c.captured || c.amount_captured !== won[0].amount)) {
      v.push(
        `${c.id}: capture ${won[0].id} of ${won[0].amount} succeeded, the charge says captured=${c.captured} ${c.amount_captured}`,
      );
    }
    if (c.status === 'succeeded' && !c.capture && c.captured && won.length === 0)
      v.push(`${c.id} is captured without a capture`);
  }

  // Sessions: paid at most once, the shopper charged at most once.
  for (const s of sessions) {
    const paid = [...charges.values()].filter(
      (c) => c.checkout_session === s.id && ['succeeded', 'canceled'].includes(c.status),
    );
    const madeAtClover = [...charges.values()]
      .filter((c) => c.checkout_session === s.id)
      .flatMap((c) => (atClover.get(c.id) ?? []).filter((cc) => cc.status === 'succeeded'));
    if (madeAtClover.length > 1)
      v.push(`session ${s.id}: the shopper was charged ${madeAtClover.length} times at Clover`);
    if (paid.length > 1) v.push(`session ${s.id} is paid by ${paid.length} charges`);
    if (paid.length === 1 && (s.status !== 'paid' || s.charge !== paid[0]!.id)) {
      v.push(`session ${s.id} is ${s.status} (${s.charge}) although ${paid[0]!.id} paid it`);
    }
    if (paid.length === 0 && s.status === 'paid') v.push(`session ${s.id} is paid without a charge`);
  }

  // Every replay equals the first definitive answer.
  for (const [key, list] of o.answers) {
    const definitive = list.filter((a) => !a.crashed && (a.replayed || [200, 201, 402].includes(a.status)));
    const first = definitive[0];
    for (const a of definitive.slice(1)) {
      if (a.status !== first!.status || a.body !== first!.body) {
        v.push(
          `key ${key}: answered ${first!.status} ${first!.body.slice(0, 160)} then ${a.status} ${a.body.slice(0, 160)}`,
        );
        break;
      }
    }
  }

  // No card number anywhere.
  const text = [JSON.stringify(o.ledger), ...[...o.answers.values()].flat().map((a) => a.body), o.logs].join('\n');
  for (const leak of leaksIn(text)) v.push(`card data found: ${leak.slice(0, 6)}…`);
  return v;
}
