/**
 * Refunds, never more than was charged, whatever the concurrency. Each refund reserves its amount
 * against the charge's `refundable_remaining` in the claim transaction (`refundable_remaining >=
 * :amount`, then `- :amount`), together with the refund record, `pending`, before Clover is
 * called. Success moves the reservation into `amount_refunded`; a definitive failure gives it
 * back; an unknown outcome keeps it until a retry or the reconciler learns the answer.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { createRefund } from '../clover/scl';
import { config } from '../config';
import { ApiError, conflict, invalidRequest, notFound } from '../http/errors';
import { json, toResponse } from '../http/response';
import {
  type Claim,
  claim,
  cloverIdempotencyKey,
  completeItem,
  endOf,
  LedgerConditionFailed,
  priorAttempt,
  releaseClaim,
} from '../idempotency';
import { newId } from '../ids';
import { logger } from '../log';
import { withAccessToken } from '../merchant-context';
import { pk, sk } from '../store/keys';
import {
  type ChargeRecord,
  getCharge,
  getRefund,
  pendingIndex,
  type RefundRecord,
  refundObject,
} from '../store/ledger';
import type { ClaimRef } from './charges';
import { classify, pendingFailure } from './outcome';
import { transact } from './transact';

export interface RefundInput {
  charge: string;
  amount?: number | undefined;
  reason?: string | undefined;
}

/** How much this request refunds, or why it cannot. */
function refundAmount(ch: ChargeRecord, amount: number | undefined): { amount: number; isVoid: boolean } {
  if (ch.status === 'canceled') throw conflict('charge_already_refunded', 'This charge has already been canceled.');
  if (ch.status !== 'succeeded') {
    throw conflict('charge_not_refundable', `A ${ch.status} charge cannot be refunded.`);
  }
  if (!ch.captured) {
    // An uncaptured authorisation is released whole (clover-api.md §5.5: no partial void).
    if (ch.refundable_remaining <= 0)
      throw conflict('charge_already_refunded', 'This authorisation is being released already.');
    if (amount !== undefined && amount !== ch.amount) {
      throw invalidRequest(
        amount > ch.amount ? 'amount_too_large' : 'partial_refund_uncaptured',
        'An uncaptured charge can only be refunded whole; leave out amount to release the authorisation.',
        'amount',
      );
    }
    return { amount: ch.amount, isVoid: true };
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
  return { amount: amount ?? ch.refundable_remaining, isVoid: false };
}

export async function refundOnce(ref: ClaimRef, input: RefundInput): Promise<APIGatewayProxyResult> {
  // An answered request is replayed even if nothing is left to refund now; see priorAttempt.
  // Both reads at once: one round trip (the charge read is wasted only on a replay).
  const [prior, ch] = await Promise.all([
    priorAttempt(ref.merchantId, ref.clientKey, ref.hash),
    getCharge(ref.merchantId, input.charge),
  ]);
  if (prior?.kind === 'replay') return prior.response;
  if (!ch) throw notFound('charge', 'charge');
  let planned: { amount: number; isVoid: boolean } | null;
  try {
    planned = refundAmount(ch, input.amount);
  } catch (e) {
    // A retry of a refund still pending: its own reservation makes the charge look refunded.
    if (prior?.kind !== 'unresolved') throw e;
    planned = null;
  }
  const { amount, isVoid } = planned ?? { amount: 0, isVoid: false };
  const now = new Date();
  const id = newId('re', now.getTime());
  const body: Record<string, unknown> = {
    charge: ch.clover.charge_id,
    ...(isVoid ? {} : { amount }),
    ...(input.reason ? { reason: input.reason } : {}),
  };
  const refund: RefundRecord = {
    pk: pk.merchant(ref.merchantId),
    sk: sk.refund(id),
    object: 'refund',
    id,
    merchant_id: ref.merchantId,
    charge: ch.id,
    amount,
    is_void: isVoid,
    currency: ch.currency,
    status: 'pending',
    reason: input.reason ?? null,
    clover: { refund_id: null },
    clover_request: {
      idempotency_key: cloverIdempotencyKey(ref.merchantId, ref.routeKey, ref.clientKey),
      forwarded_for: '',
      body,
      route_key: ref.routeKey,
      client_key: ref.clientKey,
    },
    created: now.toISOString(),
    updated: now.toISOString(),
    ...pendingIndex,
    gsi1sk: `${now.toISOString()}#${ref.merchantId}#${id}`,
  };
  let outcome: Awaited<ReturnType<typeof claim>>;
  try {
    outcome = await claim(
      ref.merchantId,
      ref.routeKey,
      ref.clientKey,
      ref.hash,
      {
        resourceId: id,
        items: planned
          ? [
              { Put: { TableName: config.tableName, Item: refund, ConditionExpression: 'attribute_not_exists(pk)' } },
              {
                Update: {
                  TableName: config.tableName,
                  Key: { pk: pk.merchant(ref.merchantId), sk: sk.charge(ch.id) },
                  UpdateExpression: 'SET refundable_remaining = refundable_remaining - :a ADD amount_refund_pending :a',
                  // Without an amount the whole remainder is meant: it must still be exactly that.
                  ConditionExpression: [
                    input.amount === undefined
                      ? '#s = :succeeded AND refundable_remaining = :a'
                      : '#s = :succeeded AND refundable_remaining >= :a',
                    // A void must not race a capture of the same authorisation (capture.ts checks the converse).
                    ...(isVoid
                      ? ['captured = :false AND (attribute_not_exists(capture_lock) OR capture_lock_until < :now)']
                      : []),
                  ].join(' AND '),
                  ExpressionAttributeNames: { '#s': 'status' },
                  ExpressionAttributeValues: {
                    ':a': amount,
                    ':succeeded': 'succeeded',
                    ...(isVoid ? { ':false': false, ':now': now.getTime() } : {}),
                  },
                },
              },
            ]
          : [
              // Only a takeover of the pending refund may proceed: if its claim is gone, this write
              // fails and the request is judged as a new one below.
              {
                ConditionCheck: {
                  TableName: config.tableName,
                  Key: { pk: pk.merchant(ref.merchantId), sk: sk.charge(ch.id) },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
            ],
      },
      ref.requestId,
    );
  } catch (e) {
    if (!(e instanceof LedgerConditionFailed)) throw e;
    // A concurrent refund took what this one wanted: answer from the charge as it is now.
    const fresh = await getCharge(ref.merchantId, ch.id);
    if (!fresh) throw notFound('charge', 'charge');
    refundAmount(fresh, input.amount);
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
  if (outcome.kind === 'replay') return outcome.response;
  const c = outcome.claim;
  const r = c.resourceId && c.resourceId !== id ? await getRefund(ref.merchantId, c.resourceId) : refund;
  if (!r) {
    await releaseClaim(c);
    throw new ApiError(500, 'api_error', 'ledger_inconsistent', 'The refund of this request could not be found.');
  }
  return sendRefund(c, r, ref.requestId);
}

/** Sends (or re-sends) a pending refund and records the outcome. Also the reconciler's path. */
export async function sendRefund(c: Claim, refund: RefundRecord, requestId: string): Promise<APIGatewayProxyResult> {
  if (refund.status !== 'pending') {
    const response =
      refund.status === 'succeeded'
        ? json(201, refundObject(refund))
        : toResponse(
            new ApiError(400, 'invalid_request_error', refund.failure_code ?? 'refund_failed', 'The refund failed.'),
            requestId,
          );
    await transact([completeItem(c, response, true)]);
    return response;
  }
  const req = refund.clover_request;
  let result: Awaited<ReturnType<typeof createRefund>>;
  try {
    result = await withAccessToken(refund.merchant_id, (token) =>
      createRefund({ token, idempotencyKey: req.idempotency_key }, req.body),
    );
  } catch (e) {
    await releaseClaim(c).catch(() => {});
    throw pendingFailure(e, refund.charge);
  }
  const o = classify(result, 'refund');
  const at = new Date().toISOString();
  const chargeKey = { pk: pk.merchant(refund.merchant_id), sk: sk.charge(refund.charge) };
  if (o.state === 'pending') {
    logger.warn('refund outcome unknown; left pending', { refundId: refund.id, merchantId: refund.merchant_id });
    const response = toResponse(o.error(refund.charge), requestId);
    await transact([completeItem(c, response, false)]);
    return response;
  }
  const succeeded = o.state === 'succeeded';
  const updated: RefundRecord = {
    ...refund,
    status: succeeded ? 'succeeded' : 'failed',
    clover: { refund_id: succeeded ? String(o.body.id) : null },
    ...(succeeded ? {} : { failure_code: o.error.code }),
    updated: at,
  };
  delete updated.gsi1pk;
  delete updated.gsi1sk;
  const response = succeeded ? json(201, refundObject(updated)) : toResponse(o.error, requestId);
  const chargeUpdate = succeeded
    ? {
        UpdateExpression: refund.is_void
          ? 'SET #s = :canceled ADD amount_refund_pending :neg'
          : 'ADD amount_refund_pending :neg, amount_refunded :a',
        ExpressionAttributeValues: refund.is_void
          ? { ':neg': -refund.amount, ':canceled': 'canceled' }
          : { ':neg': -refund.amount, ':a': refund.amount },
      }
    : {
        // Nothing was refunded: give the reservation back.
        UpdateExpression: 'ADD amount_refund_pending :neg, refundable_remaining :a',
        ExpressionAttributeValues: { ':neg': -refund.amount, ':a': refund.amount },
      };
  await transact([
    {
      Put: {
        TableName: config.tableName,
        Item: updated,
        ConditionExpression: '#s = :pending',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':pending': 'pending' },
      },
    },
    {
      Update: {
        TableName: config.tableName,
        Key: chargeKey,
        ...chargeUpdate,
        ...(refund.is_void && succeeded ? { ExpressionAttributeNames: { '#s': 'status' } } : {}),
      },
    },
    completeItem(c, response, endOf(o)),
  ]);
  return response;
}
