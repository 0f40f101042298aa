/**
 * Refunds, never more than was charged, whatever the concurrency (docs/money.md). Each refund
 * reserves its amount against the charge's `refundable_remaining` (`>= :amount`, then `- :amount`)
 * in the same transaction that records it `pending` (and lists it in the pending index), before
 * Clover is called. Success moves the reservation into `amount_refunded`; a refusal gives it back;
 * while the outcome is unknown the reservation stays.
 *
 * A refund that takes all that is left while no other refund is pending is sent without an
 * amount (`whole`), as a void is: a second send of it can refund nothing more, so a caller's retry
 * may send it again at once. A partial refund sent twice could refund twice, so it is looked up
 * at Clover first and sent again only once the lookup proves nothing was made.
 */
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { dynamo } from '../aws';
import { takeTurn } from '../clover/budget';
import { config } from '../config';
import { hooks } from '../hooks';
import { ApiError, conflict, invalidRequest, notFound } from '../http/errors';
import { claimKey, findKey, type KeyRecord, releaseKey } from '../idempotency';
import { newId } from '../ids';
import { pk, sk } from '../store/keys';
import { type ChargeRecord, getCharge, getRefund, type RefundRecord } from '../store/ledger';
import { pendingKeys } from '../store/pending';
import { refundAnswer } from './answers';
import type { ClaimRef } from './charges';
import { lookupRefund, sendRefund, waitBudget } from './clover-calls';
import {
  CLAIM_LEASE_MS,
  drive,
  isConditionFailure,
  isTransactionConflict,
  type Kind,
  pendingFailure,
  RECONCILE_GRACE_MS,
  resume,
} from './operation';

export interface RefundInput {
  charge: string;
  amount?: number | undefined;
  reason?: string | undefined;
}

interface Planned {
  amount: number;
  isVoid: boolean;
  whole: boolean;
}

/** How much this request refunds, or why it cannot. */
function plan(ch: ChargeRecord, amount: number | undefined): Planned {
  if (ch.status === 'canceled') throw conflict('charge_already_refunded', 'This charge has already been canceled.');
  if (ch.status !== 'succeeded') {
    throw conflict('charge_not_refundable', `A ${ch.status} charge cannot be refunded.`);
  }
  if (!ch.captured) {
    // An uncaptured authorisation is released whole (clover-api.md §5.5: no partial void).
    if (ch.refundable_remaining <= 0)
      throw conflict('charge_already_refunded', 'This authorisation is being released already.');
    if (ch.capture_lock) {
      throw new ApiError(409, 'invalid_request_error', 'charge_capture_in_progress', 'This charge is being captured.', {
        retryAfter: 1,
        charge: ch.id,
      });
    }
    if (amount !== undefined && amount !== ch.amount) {
      throw invalidRequest(
        amount > ch.amount ? 'amount_too_large' : 'partial_refund_uncaptured',
        'An uncaptured charge can only be refunded whole; leave out amount to release the authorisation.',
        'amount',
      );
    }
    return { amount: ch.amount, isVoid: true, whole: true };
  }
  if (ch.refundable_remaining <= 0)
    throw conflict('charge_already_refunded', 'This charge has already been refunded in full.');
  if (amount !== undefined && amount > ch.refundable_remaining) {
    throw invalidRequest(
      'amount_too_large',
      `The amount is more than the ${ch.refundable_remaining} left to refund.`,
      'amount',
    );
  }
  const planned = amount ?? ch.refundable_remaining;
  return {
    amount: planned,
    isVoid: false,
    whole: planned === ch.refundable_remaining && ch.amount_refund_pending === 0,
  };
}

export const refundKind: Kind<RefundRecord> = {
  op: 'refund',
  load: getRefund,
  expect: (r) => ({
    op: 'refund',
    ourId: r.id,
    amount: r.amount,
    currency: r.currency,
    cloverChargeId: r.clover_charge_id,
  }),
  duplicateSafe: (r) => r.whole,
  chargeId: (r) => r.charge,
  send: sendRefund,
  lookup: lookupRefund,
  async resolve(r, res, cond) {
    const succeeded = res.kind === 'succeeded';
    const refundId = succeeded ? String(res.object.id) : null;
    const next: RefundRecord = {
      ...r,
      status: succeeded ? 'succeeded' : 'failed',
      clover: { refund_id: refundId },
      ...(res.kind === 'failed' ? { answer: res.answer } : {}),
    };
    delete next.lease_owner;
    delete next.pending_shard;
    delete next.pending_due;
    const chargeUpdate = succeeded
      ? r.is_void
        ? {
            UpdateExpression: 'SET #s = :canceled ADD amount_refund_pending :neg',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: { ':neg': -r.amount, ':canceled': 'canceled' },
          }
        : {
            UpdateExpression: 'ADD amount_refund_pending :neg, amount_refunded :a',
            ExpressionAttributeValues: { ':neg': -r.amount, ':a': r.amount },
          }
      : {
          // Nothing was refunded: the reservation goes back.
          UpdateExpression: 'ADD amount_refund_pending :neg, refundable_remaining :a',
          ExpressionAttributeValues: { ':neg': -r.amount, ':a': r.amount },
        };
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: config.tableName,
              Key: { pk: r.pk, sk: r.sk },
              UpdateExpression: `SET #s = :s, clover = :clover, resolved_by = :rid${succeeded ? '' : ', answer = :answer'} REMOVE lease_owner, pending_shard, pending_due`,
              ConditionExpression: `#s IN (:pending, :attention)${cond.attempt !== undefined ? ' AND attempt = :attempt' : ''}`,
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: {
                ':s': next.status,
                ':clover': next.clover,
                ':rid': cond.requestId,
                ':pending': 'pending',
                ':attention': 'needs_attention',
                ...(succeeded ? {} : { ':answer': next.answer }),
                ...(cond.attempt !== undefined ? { ':attempt': cond.attempt } : {}),
              },
            },
          },
          { Update: { TableName: config.tableName, Key: { pk: r.pk, sk: sk.charge(r.charge) }, ...chargeUpdate } },
        ],
      }),
    );
    return next;
  },
  answer: async (r) => refundAnswer(r),
};

export async function refundOnce(
  ref: ClaimRef,
  input: RefundInput,
  ensureMerchant: () => Promise<unknown>,
): Promise<APIGatewayProxyResult> {
  const now = hooks.now();
  // Both reads at once: one round trip (the charge read is wasted only on a retry).
  const [prior, ch] = await Promise.all([
    findKey(ref.merchantId, ref.clientKey, ref.hash, now),
    getCharge(ref.merchantId, input.charge),
  ]);
  const resumeWith = (key: KeyRecord) =>
    resume({
      kind: refundKind,
      merchantId: ref.merchantId,
      requestId: ref.requestId,
      key,
      ensureMerchant,
      recreate: async (id) => {
        const fresh = await getCharge(ref.merchantId, input.charge);
        if (!fresh) throw notFound('charge', 'charge');
        return startRefund(ref, fresh, input, plan(fresh, input.amount), id, ensureMerchant);
      },
    });
  // An answered request is replayed even when nothing is left to refund now; an unresolved one is
  // carried on although its own reservation makes the charge look refunded.
  if (prior) return resumeWith(prior);
  if (!ch) throw notFound('charge', 'charge');
  const planned = plan(ch, input.amount);
  const id = newId('re', now);
  const claimed = await claimKey(ref.merchantId, ref.clientKey, ref.hash, 'refund', sk.refund(id), now);
  if (claimed.kind === 'existing') return resumeWith(claimed.record);
  return startRefund(ref, ch, input, planned, id, ensureMerchant);
}

async function startRefund(
  ref: ClaimRef,
  ch: ChargeRecord,
  input: RefundInput,
  planned: Planned,
  id: string,
  ensureMerchant: () => Promise<unknown>,
): Promise<APIGatewayProxyResult> {
  await hooks.step('key_claimed', id);
  const now = hooks.now();
  const deadline = now + config.cloverTimeoutMs;
  try {
    await ensureMerchant();
    await takeTurn(ref.merchantId, waitBudget(deadline));
  } catch (e) {
    await releaseKey(ref.merchantId, ref.clientKey, sk.refund(id));
    throw e;
  }
  const record: RefundRecord = {
    pk: pk.merchant(ref.merchantId),
    sk: sk.refund(id),
    object: 'refund',
    id,
    merchant_id: ref.merchantId,
    charge: ch.id,
    clover_charge_id: ch.clover.charge_id ?? '',
    amount: planned.amount,
    whole: planned.whole,
    is_void: planned.isVoid,
    currency: ch.currency,
    status: 'pending',
    reason: input.reason ?? null,
    clover: { refund_id: null },
    created: new Date(now).toISOString(),
    client_key: ref.clientKey,
    attempt: 1,
    lease_owner: ref.requestId,
    lease_until: now + CLAIM_LEASE_MS,
    ...pendingKeys(id, now + RECONCILE_GRACE_MS, now),
  };
  const conditions = [
    '#s = :succeeded',
    // Without an amount the whole remainder is meant: it must still be exactly that.
    input.amount === undefined || planned.whole ? 'refundable_remaining = :a' : 'refundable_remaining >= :a',
    // Sent without an amount, it takes what is left at Clover: no other refund may be under way.
    ...(planned.whole ? ['amount_refund_pending = :zero'] : []),
    // A void must not race a capture of the same authorisation (capture.ts checks the converse).
    ...(planned.isVoid ? ['captured = :false AND attribute_not_exists(capture_lock)'] : []),
  ];
  try {
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: config.tableName, Item: record, ConditionExpression: 'attribute_not_exists(pk)' } },
          {
            Update: {
              TableName: config.tableName,
              Key: { pk: ch.pk, sk: ch.sk },
              UpdateExpression: 'SET refundable_remaining = refundable_remaining - :a ADD amount_refund_pending :a',
              ConditionExpression: conditions.join(' AND '),
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: {
                ':a': planned.amount,
                ':succeeded': 'succeeded',
                ...(planned.whole ? { ':zero': 0 } : {}),
                ...(planned.isVoid ? { ':false': false } : {}),
              },
            },
          },
        ],
      }),
    );
  } catch (e) {
    // The write may have happened: name the charge, which a retry with the same key carries on.
    if (!isConditionFailure(e) && !isTransactionConflict(e)) throw pendingFailure(e, ch.id);
    await releaseKey(ref.merchantId, ref.clientKey, sk.refund(id));
    // A concurrent refund or capture took what this one wanted: answer from the charge as it is now.
    const fresh = await getCharge(ref.merchantId, ch.id);
    if (!fresh) throw notFound('charge', 'charge');
    plan(fresh, input.amount);
    throw new ApiError(
      409,
      'invalid_request_error',
      'refund_conflict',
      'Another refund of this charge changed what is left to refund; retry.',
      {
        retryAfter: 1,
      },
    );
  }
  await hooks.step('recorded', id);
  const driven = await drive(refundKind, record, {
    owner: ref.requestId,
    requestId: ref.requestId,
    deadline,
    first: true,
    settledAt: null,
    attempt: 1,
    reconciler: false,
    turnTaken: true,
  });
  return driven.response;
}
