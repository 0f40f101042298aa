/**
 * Capturing an authorised charge, at most once. The claim transaction also takes the charge's
 * capture lock (`capture_lock`, named after the client's Idempotency-Key so that a retry of the
 * same request keeps it), conditioned on the charge being succeeded and not captured: two
 * concurrent captures with different keys cannot both reach Clover.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { captureCharge, getCloverCharge } from '../clover/scl';
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
  releaseClaim,
} from '../idempotency';
import { sha256Hex } from '../ids';
import { withAccessToken } from '../merchant-context';
import { accessToken } from '../oauth/access-token';
import { pk, sk } from '../store/keys';
import { type ChargeRecord, chargeObject, getCharge, pendingIndex } from '../store/ledger';
import type { ClaimRef } from './charges';
import { classify, pendingFailure } from './outcome';
import { transact } from './transact';

const LOCK_MS = 30_000;

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
}

export async function captureOnce(
  ref: ClaimRef,
  chargeId: string,
  amount: number | undefined,
  forwardedFor: string,
): Promise<APIGatewayProxyResult> {
  const ch = await getCharge(ref.merchantId, chargeId);
  if (!ch) throw notFound('charge');
  const lock = lockFor(ref.clientKey);
  const now = Date.now();
  let outcome: Awaited<ReturnType<typeof claim>>;
  try {
    outcome = await claim(
      ref.merchantId,
      ref.routeKey,
      ref.clientKey,
      ref.hash,
      {
        resourceId: chargeId,
        items: [
          {
            Update: {
              TableName: config.tableName,
              Key: { pk: pk.merchant(ref.merchantId), sk: sk.charge(chargeId) },
              UpdateExpression: 'SET capture_lock = :l, capture_lock_until = :until',
              ConditionExpression:
                // No capture while a void (refund of the authorisation) is under way, and no void during a capture.
                '#s = :succeeded AND captured = :false AND amount_refund_pending = :zero AND (attribute_not_exists(capture_lock) OR capture_lock = :l OR capture_lock_until < :now)',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: {
                ':l': lock,
                ':until': now + LOCK_MS,
                ':succeeded': 'succeeded',
                ':false': false,
                ':zero': 0,
                ':now': now,
              },
            },
          },
        ],
      },
      ref.requestId,
      now,
    );
  } catch (e) {
    if (!(e instanceof LedgerConditionFailed)) throw e;
    const fresh = await getCharge(ref.merchantId, chargeId);
    if (!fresh) throw notFound('charge');
    precheck(fresh, amount);
    if (fresh.amount_refund_pending > 0) {
      throw conflict('charge_not_capturable', 'This authorisation is being released by a refund.');
    }
    throw new ApiError(
      409,
      'invalid_request_error',
      'charge_capture_in_progress',
      'Another capture of this charge is under way.',
      {
        retryAfter: 1,
      },
    );
  }
  if (outcome.kind === 'replay') return outcome.response;
  const c = outcome.claim;
  const current = (await getCharge(ref.merchantId, chargeId))!;
  try {
    precheck(current, amount);
  } catch (e) {
    await transact([
      completeItem(c, toResponse(e as ApiError, ref.requestId), true),
      unlock(ref.merchantId, chargeId, lock),
    ]);
    throw e;
  }
  return sendCapture(c, current, { amount: amount ?? null, forwarded_for: forwardedFor }, ref.requestId);
}

/** A capture whose outcome at Clover is unknown: what the reconciler needs to re-send it. */
export interface PendingCapture {
  amount: number | null;
  forwarded_for: string;
  route_key?: string;
  client_key?: string;
}

/**
 * Sends (or re-sends, with the same Clover key) a claimed capture and records the outcome. An
 * unknown outcome keeps the lock and lists the charge in GSI1 with its `pending_capture`, so that
 * a retry with the same key or the reconciler learns what Clover did.
 */
export async function sendCapture(
  c: Claim,
  current: ChargeRecord,
  pending: PendingCapture,
  requestId: string,
): Promise<APIGatewayProxyResult> {
  const lock = lockFor(c.clientKey);
  const chargeId = current.id;
  const amount = pending.amount ?? undefined;
  let result: Awaited<ReturnType<typeof captureCharge>>;
  try {
    result = await withAccessToken(c.merchantId, (token) =>
      captureCharge(
        {
          token,
          idempotencyKey: cloverIdempotencyKey(c.merchantId, c.routeKey, c.clientKey),
          forwardedFor: pending.forwarded_for,
        },
        current.clover.charge_id ?? '',
        amount !== undefined ? { amount } : {},
      ),
    );
  } catch (e) {
    await releaseClaim(c).catch(() => {});
    throw pendingFailure(e, current.id);
  }
  const o = classify(result, 'capture');
  const at = new Date().toISOString();
  if (o.state === 'succeeded') {
    const captured = amount ?? Number(o.body.amount ?? current.amount);
    const updated: ChargeRecord = {
      ...current,
      captured: true,
      amount_captured: captured,
      refundable_remaining: captured - current.amount_refunded - current.amount_refund_pending,
      updated: at,
    };
    delete updated.capture_lock;
    delete updated.capture_lock_until;
    delete updated.pending_capture;
    delete updated.gsi1pk;
    delete updated.gsi1sk;
    const response = json(200, chargeObject(updated));
    await transact([
      {
        Put: {
          TableName: config.tableName,
          Item: updated,
          ConditionExpression: 'capture_lock = :l',
          ExpressionAttributeValues: { ':l': lock },
        },
      },
      completeItem(c, response, true),
    ]);
    return response;
  }
  if (o.state === 'failed') {
    if (o.error.code === 'charge_already_captured') await syncCaptured(c.merchantId, current);
    const response = toResponse(o.error, requestId);
    await transact([completeItem(c, response, endOf(o)), unlock(c.merchantId, chargeId, lock)]);
    return response;
  }
  // Unknown: the lock stays; a retry with the same key, or the reconciler, re-sends with the same Clover key.
  const response = toResponse(o.error(chargeId), requestId);
  await transact([
    completeItem(c, response, false),
    {
      Update: {
        TableName: config.tableName,
        Key: { pk: pk.merchant(c.merchantId), sk: sk.charge(chargeId) },
        UpdateExpression: 'SET pending_capture = :p, gsi1pk = :g, gsi1sk = :gs, capture_lock_until = :until',
        ConditionExpression: 'capture_lock = :l',
        ExpressionAttributeValues: {
          ':p': { ...pending, route_key: c.routeKey, client_key: c.clientKey },
          ':g': pendingIndex.gsi1pk,
          ':gs': `${at}#${c.merchantId}#${chargeId}`,
          // Held until the outcome is known, not for the usual 30 s.
          ':until': Date.now() + 24 * 3600 * 1000,
          ':l': lock,
        },
      },
    },
  ]);
  return response;
}

const lockFor = (clientKey: string) => `capture:${sha256Hex(clientKey).slice(0, 32)}`;

function unlock(merchantId: string, chargeId: string, lock: string) {
  return {
    Update: {
      TableName: config.tableName,
      Key: { pk: pk.merchant(merchantId), sk: sk.charge(chargeId) },
      UpdateExpression: 'REMOVE capture_lock, capture_lock_until',
      ConditionExpression: 'capture_lock = :l',
      ExpressionAttributeValues: { ':l': lock },
    },
  };
}

/** Clover says the charge is captured already (an earlier capture's answer was lost): learn the amount. */
async function syncCaptured(merchantId: string, ch: ChargeRecord): Promise<void> {
  if (!ch.clover.charge_id) return;
  const r = await getCloverCharge(await accessToken(merchantId), ch.clover.charge_id);
  if (r.kind !== 'ok') return;
  const amount = Number(r.body.amount ?? ch.amount);
  await transact([
    {
      Update: {
        TableName: config.tableName,
        Key: { pk: pk.merchant(merchantId), sk: sk.charge(ch.id) },
        UpdateExpression: 'SET captured = :t, amount_captured = :a, refundable_remaining = :r',
        ConditionExpression: 'captured = :f',
        ExpressionAttributeValues: {
          ':t': true,
          ':f': false,
          ':a': amount,
          ':r': amount - ch.amount_refunded - ch.amount_refund_pending,
        },
      },
    },
  ]).catch(() => {});
}
