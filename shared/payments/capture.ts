/**
 * Capturing an authorised charge, at most once (docs/money.md). A capture is an operation of its
 * own (`cp_…`, its Clover key derived from that id): recorded `pending`, listed in the pending
 * index, in the same transaction that takes the charge's capture lock (conditioned on the charge
 * being succeeded, not captured, not being voided, and not locked) — so two captures, or a
 * capture and a void, can never both reach Clover, and a capture whose answer is lost is found
 * and resolved by the reconciler like any other pending operation.
 */
import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { dynamo } from '../aws';
import { takeTurn } from '../clover/budget';
import { getCloverCharge } from '../clover/scl';
import { config } from '../config';
import { hooks } from '../hooks';
import { ApiError, conflict, invalidRequest, notFound } from '../http/errors';
import { claimKey, findKey, type KeyRecord, releaseKey } from '../idempotency';
import { newId } from '../ids';
import { pk, sk } from '../store/keys';
import { type CaptureRecord, type ChargeRecord, getCapture, getCharge } from '../store/ledger';
import { pendingKeys } from '../store/pending';
import { captureAnswer } from './answers';
import type { ClaimRef } from './charges';
import { callClover, lookupCapture, sendCapture, waitBudget } from './clover-calls';
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

function precheck(ch: ChargeRecord, amount: number | undefined): void {
  if (ch.status !== 'succeeded') throw conflict('charge_not_capturable', `A ${ch.status} charge cannot be captured.`);
  if (ch.captured) throw conflict('charge_already_captured', 'This charge has already been captured.');
  if (amount !== undefined && amount > ch.amount) {
    throw invalidRequest(
      'amount_too_large',
      `The amount to capture is more than the ${ch.amount} authorised.`,
      'amount',
    );
  }
  if (ch.amount_refund_pending > 0) {
    throw conflict('charge_not_capturable', 'This authorisation is being released by a refund.');
  }
  if (ch.capture_lock) {
    throw new ApiError(
      409,
      'invalid_request_error',
      'charge_capture_in_progress',
      'Another capture of this charge is under way.',
      {
        retryAfter: 1,
        charge: ch.id,
      },
    );
  }
}

export const captureKind: Kind<CaptureRecord> = {
  op: 'capture',
  load: getCapture,
  expect: (c) => ({
    op: 'capture',
    ourId: c.id,
    amount: c.amount,
    currency: c.currency,
    cloverChargeId: c.clover_charge_id,
  }),
  // A charge is captured once at most: a second send cannot capture it twice.
  duplicateSafe: () => true,
  chargeId: (c) => c.charge,
  send: sendCapture,
  lookup: lookupCapture,
  async resolve(c, res, cond) {
    const chargeKey = { pk: pk.merchant(c.merchant_id), sk: sk.charge(c.charge) };
    const succeeded = res.kind === 'succeeded';
    const next: CaptureRecord = {
      ...c,
      status: succeeded ? 'succeeded' : 'failed',
      ...(res.kind === 'failed' ? { answer: res.answer } : {}),
    };
    delete next.lease_owner;
    delete next.pending_shard;
    delete next.pending_due;
    // Refused because Clover has it captured already (from outside): learn how much, from Clover.
    const elsewhere =
      res.kind === 'failed' && res.answer.code === 'charge_already_captured' ? await capturedAtClover(c) : null;
    const chargeUpdate = succeeded
      ? {
          UpdateExpression: 'SET captured = :t, amount_captured = :a, refundable_remaining = :a REMOVE capture_lock',
          ExpressionAttributeValues: { ':t': true, ':a': c.amount, ':cp': c.id },
        }
      : elsewhere !== null
        ? {
            UpdateExpression: 'SET captured = :t, amount_captured = :a, refundable_remaining = :a REMOVE capture_lock',
            ExpressionAttributeValues: { ':t': true, ':a': elsewhere, ':cp': c.id },
          }
        : { UpdateExpression: 'REMOVE capture_lock', ExpressionAttributeValues: { ':cp': c.id } };
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: config.tableName,
              Key: { pk: c.pk, sk: c.sk },
              UpdateExpression: `SET #s = :s, resolved_by = :rid${succeeded ? '' : ', answer = :answer'} REMOVE lease_owner, pending_shard, pending_due`,
              ConditionExpression: `#s IN (:pending, :attention)${cond.attempt !== undefined ? ' AND attempt = :attempt' : ''}`,
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: {
                ':s': next.status,
                ':rid': cond.requestId,
                ':pending': 'pending',
                ':attention': 'needs_attention',
                ...(succeeded ? {} : { ':answer': next.answer }),
                ...(cond.attempt !== undefined ? { ':attempt': cond.attempt } : {}),
              },
            },
          },
          {
            Update: {
              TableName: config.tableName,
              Key: chargeKey,
              ...chargeUpdate,
              ConditionExpression: 'capture_lock = :cp',
            },
          },
        ],
      }),
    );
    return next;
  },
  async answer(c) {
    const ch = await getCharge(c.merchant_id, c.charge);
    if (!ch)
      throw new ApiError(500, 'api_error', 'ledger_inconsistent', 'The charge of this capture could not be found.');
    return captureAnswer(c, ch);
  },
};

/** What Clover says was captured on the charge (amount_captured), when it says it is captured. */
async function capturedAtClover(c: CaptureRecord): Promise<number | null> {
  try {
    const { answer: r } = await callClover(c.merchant_id, hooks.now() + config.cloverTimeoutMs, (token, d) =>
      getCloverCharge(token, c.clover_charge_id, d),
    );
    if (r.kind !== 'ok' || (r.body.captured !== true && r.body.captured !== 'true')) return null;
    const amount = Number(r.body.amount_captured);
    return Number.isSafeInteger(amount) && amount > 0 ? amount : null;
  } catch {
    return null;
  }
}

export async function captureOnce(
  ref: ClaimRef,
  chargeId: string,
  amount: number | undefined,
  forwardedFor: string,
  ensureMerchant: () => Promise<unknown>,
): Promise<APIGatewayProxyResult> {
  const now = hooks.now();
  const [prior, ch] = await Promise.all([
    findKey(ref.merchantId, ref.clientKey, ref.hash, now),
    getCharge(ref.merchantId, chargeId),
  ]);
  const resumeWith = (key: KeyRecord) =>
    resume({
      kind: captureKind,
      merchantId: ref.merchantId,
      requestId: ref.requestId,
      key,
      ensureMerchant,
      recreate: async (id) => {
        const fresh = await getCharge(ref.merchantId, chargeId);
        if (!fresh) throw notFound('charge');
        precheck(fresh, amount);
        return startCapture(ref, fresh, amount, forwardedFor, id, ensureMerchant);
      },
    });
  // An answered request is replayed even when the charge has moved on since.
  if (prior) return resumeWith(prior);
  if (!ch) throw notFound('charge');
  precheck(ch, amount);
  const id = newId('cp', now);
  const claimed = await claimKey(ref.merchantId, ref.clientKey, ref.hash, 'capture', sk.capture(id), now);
  if (claimed.kind === 'existing') return resumeWith(claimed.record);
  return startCapture(ref, ch, amount, forwardedFor, id, ensureMerchant);
}

async function startCapture(
  ref: ClaimRef,
  ch: ChargeRecord,
  amount: number | undefined,
  forwardedFor: string,
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
    await releaseKey(ref.merchantId, ref.clientKey, sk.capture(id));
    throw e;
  }
  const record: CaptureRecord = {
    pk: pk.merchant(ref.merchantId),
    sk: sk.capture(id),
    object: 'capture',
    id,
    merchant_id: ref.merchantId,
    charge: ch.id,
    clover_charge_id: ch.clover.charge_id ?? '',
    amount: amount ?? ch.amount,
    currency: ch.currency,
    status: 'pending',
    forwarded_for: forwardedFor,
    created: new Date(now).toISOString(),
    client_key: ref.clientKey,
    attempt: 1,
    lease_owner: ref.requestId,
    lease_until: now + CLAIM_LEASE_MS,
    ...pendingKeys(id, now + RECONCILE_GRACE_MS, now),
  };
  try {
    await dynamo.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: config.tableName, Item: record, ConditionExpression: 'attribute_not_exists(pk)' } },
          {
            Update: {
              TableName: config.tableName,
              Key: { pk: ch.pk, sk: ch.sk },
              UpdateExpression: 'SET capture_lock = :cp',
              // No capture while a void (refund of the authorisation) is under way, and no void during a capture.
              ConditionExpression:
                '#s = :succeeded AND captured = :false AND amount_refund_pending = :zero AND attribute_not_exists(capture_lock)',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: { ':cp': id, ':succeeded': 'succeeded', ':false': false, ':zero': 0 },
            },
          },
        ],
      }),
    );
  } catch (e) {
    // The write may have happened: name the charge, which a retry with the same key carries on.
    if (!isConditionFailure(e) && !isTransactionConflict(e)) throw pendingFailure(e, ch.id);
    await releaseKey(ref.merchantId, ref.clientKey, sk.capture(id));
    const fresh = await getCharge(ref.merchantId, ch.id);
    if (!fresh) throw notFound('charge');
    precheck(fresh, amount);
    throw new ApiError(
      409,
      'invalid_request_error',
      'charge_capture_in_progress',
      'This charge changed while it was being captured; retry.',
      {
        retryAfter: 1,
      },
    );
  }
  await hooks.step('recorded', id);
  const driven = await drive(captureKind, record, {
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
