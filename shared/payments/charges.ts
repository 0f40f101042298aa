/**
 * Creating a charge, exactly once. The order of writes is the whole point:
 *
 *  1. one transaction: the idempotency claim + the charge, `pending`, with the Clover request and
 *     its Clover idempotency key (derived from merchant + route + client key) — before Clover is
 *     called, so no charge can exist at Clover without a record here;
 *  2. the Clover call;
 *  3. one transaction: the charge's outcome + the idempotency record's response (+ the checkout
 *     session it pays, if any).
 *
 * If step 2's answer is lost, the charge stays `pending` and the claim `retryable`: a retry with
 * the same Idempotency-Key, or the reconciler, re-sends the recorded request with the same Clover
 * key (step 2 again), and Clover answers with the charge it already made instead of a new one.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { type CloverCharge, createCharge, str } from '../clover/scl';
import { config } from '../config';
import { ApiError } from '../http/errors';
import { json, toResponse } from '../http/response';
import {
  type Claim,
  claim,
  cloverIdempotencyKey,
  completeItem,
  endOf,
  releaseClaim,
  type TransactItem,
} from '../idempotency';
import { newId } from '../ids';
import { logger } from '../log';
import { withAccessToken } from '../merchant-context';
import { pk, sk } from '../store/keys';
import { type ChargeRecord, chargeObject, getCharge, pendingIndex } from '../store/ledger';
import { classify, pendingFailure } from './outcome';
import { transact } from './transact';

export interface NewCharge {
  source: string;
  amount: number;
  currency: string;
  capture: boolean;
  description: string | null;
  external_reference_id: string | null;
  forwardedFor: string;
  checkoutSession?: { id: string } | undefined;
}

export interface ClaimRef {
  merchantId: string;
  routeKey: string;
  clientKey: string;
  hash: string;
  requestId: string;
  /** Extra writes of the first attempt's claim transaction (a checkout session's lock). */
  extraItems?: (chargeId: string) => TransactItem[];
}

export async function createChargeOnce(ref: ClaimRef, input: NewCharge): Promise<APIGatewayProxyResult> {
  const now = new Date();
  const id = newId('ch', now.getTime());
  const body: Record<string, unknown> = {
    amount: input.amount,
    currency: input.currency,
    source: input.source,
    capture: input.capture,
    ...(input.description ? { description: input.description } : {}),
    ...(input.external_reference_id ? { external_reference_id: input.external_reference_id } : {}),
  };
  const record: ChargeRecord = {
    pk: pk.merchant(ref.merchantId),
    sk: sk.charge(id),
    object: 'charge',
    id,
    merchant_id: ref.merchantId,
    amount: input.amount,
    currency: input.currency,
    status: 'pending',
    capture: input.capture,
    captured: false,
    amount_captured: 0,
    amount_refunded: 0,
    amount_refund_pending: 0,
    refundable_remaining: 0,
    description: input.description,
    external_reference_id: input.external_reference_id,
    checkout_session: input.checkoutSession?.id ?? null,
    source: null,
    failure_code: null,
    failure_message: null,
    clover: { charge_id: null, ref_num: null, auth_code: null, order_id: null },
    clover_request: {
      idempotency_key: cloverIdempotencyKey(ref.merchantId, ref.routeKey, ref.clientKey),
      forwarded_for: input.forwardedFor,
      body,
      route_key: ref.routeKey,
      client_key: ref.clientKey,
    },
    created: now.toISOString(),
    updated: now.toISOString(),
    ...pendingIndex,
    gsi1sk: `${now.toISOString()}#${ref.merchantId}#${id}`,
  };
  const outcome = await claim(
    ref.merchantId,
    ref.routeKey,
    ref.clientKey,
    ref.hash,
    {
      resourceId: id,
      items: [
        { Put: { TableName: config.tableName, Item: record, ConditionExpression: 'attribute_not_exists(pk)' } },
        ...(ref.extraItems?.(id) ?? []),
      ],
    },
    ref.requestId,
  );
  if (outcome.kind === 'replay') return outcome.response;
  const c = outcome.claim;
  const charge = c.resourceId && c.resourceId !== id ? await getCharge(ref.merchantId, c.resourceId) : record;
  if (!charge) {
    await releaseClaim(c);
    throw new ApiError(500, 'api_error', 'ledger_inconsistent', 'The charge of this request could not be found.');
  }
  return sendCharge(c, charge, ref.requestId);
}

/**
 * Step 2 and 3 for a claimed charge: (re-)sends the recorded request unless the charge is already
 * resolved, and records the outcome. Used by the first attempt, by retries and by the reconciler.
 */
export async function sendCharge(c: Claim, charge: ChargeRecord, requestId: string): Promise<APIGatewayProxyResult> {
  if (charge.status !== 'pending') {
    // Resolved, but the claim's response was not written (a crash between the two): answer from the ledger.
    const response = chargeResponse(charge, requestId);
    await transact([completeItem(c, response, true)]);
    return response;
  }
  const req = charge.clover_request;
  let result: Awaited<ReturnType<typeof createCharge>>;
  try {
    result = await withAccessToken(charge.merchant_id, (token) =>
      createCharge({ token, idempotencyKey: req.idempotency_key, forwardedFor: req.forwarded_for }, req.body),
    );
  } catch (e) {
    // Our side failed before Clover was called (token store down, merchant needs reauth): the charge stays pending.
    await releaseClaim(c).catch(() => {});
    throw pendingFailure(e, charge.id);
  }
  const outcome = classify(result, 'charge');
  const now = new Date().toISOString();
  let updated: ChargeRecord;
  let response: APIGatewayProxyResult;
  const end = endOf(outcome);
  if (outcome.state === 'succeeded') {
    updated = { ...charge, ...fromClover(outcome.body, charge), status: 'succeeded', updated: now };
    updated.refundable_remaining = updated.captured ? updated.amount_captured : updated.amount;
    delete updated.gsi1pk;
    delete updated.gsi1sk;
    updated.failure_code = null;
    updated.failure_message = null;
    response = json(201, chargeObject(updated));
  } else if (outcome.state === 'failed') {
    updated = {
      ...charge,
      status: 'failed',
      failure_code: outcome.failureCode,
      failure_message: outcome.failureMessage,
      decline_code: outcome.declineCode ?? null,
      clover: { ...charge.clover, charge_id: outcome.cloverChargeId ?? charge.clover.charge_id },
      updated: now,
    };
    delete updated.gsi1pk;
    delete updated.gsi1sk;
    const err = outcome.error;
    response = toResponse(
      new ApiError(err.status, err.type, err.code, err.message, { ...err.extras, charge: charge.id }),
      requestId,
    );
  } else {
    updated = { ...charge, updated: now };
    response = toResponse(outcome.error(charge.id), requestId);
    logger.warn('charge outcome unknown; left pending', { chargeId: charge.id, merchantId: charge.merchant_id });
  }
  try {
    await transact([
      {
        Put: {
          TableName: config.tableName,
          Item: updated,
          // Only an unresolved charge is resolved here; nothing else writes a charge before that.
          ConditionExpression: '#s = :pending',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':pending': 'pending' },
        },
      },
      completeItem(c, response, end),
      ...sessionItems(updated),
    ]);
  } catch (e) {
    // Clover answered but the answer could not be recorded: the charge stays pending, and a retry
    // (after the claim's lease) or the reconciler records it from Clover's idempotent replay.
    logger.error('charge outcome not recorded; left pending', { chargeId: charge.id, error: (e as Error).name });
    throw pendingFailure(e, charge.id);
  }
  return response;
}

/** A checkout session paid by this charge: paid on success, unlocked on a definitive failure. */
function sessionItems(ch: ChargeRecord): TransactItem[] {
  if (!ch.checkout_session || ch.status === 'pending') return [];
  const key = { pk: pk.merchant(ch.merchant_id), sk: sk.session(ch.checkout_session) };
  if (ch.status === 'succeeded') {
    return [
      {
        Update: {
          TableName: config.tableName,
          Key: key,
          UpdateExpression: 'SET #s = :paid, charge = :c REMOVE pay_lock',
          ConditionExpression: 'pay_lock = :c',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':paid': 'paid', ':c': ch.id },
        },
      },
    ];
  }
  return [
    {
      Update: {
        TableName: config.tableName,
        Key: key,
        UpdateExpression: 'REMOVE pay_lock',
        ConditionExpression: 'pay_lock = :c',
        ExpressionAttributeValues: { ':c': ch.id },
      },
    },
  ];
}

export function chargeResponse(ch: ChargeRecord, requestId: string): APIGatewayProxyResult {
  if (ch.status === 'succeeded') return json(201, chargeObject(ch));
  return toResponse(
    new ApiError(
      402,
      'card_error',
      ch.failure_code ?? 'card_declined',
      ch.failure_message ?? 'The card was declined.',
      {
        charge: ch.id,
        ...(ch.decline_code ? { decline_code: ch.decline_code } : {}),
      },
    ),
    requestId,
  );
}

function fromClover(cc: CloverCharge, ch: ChargeRecord): Partial<ChargeRecord> {
  const captured = cc.captured === true || cc.captured === 'true';
  return {
    captured,
    amount_captured: captured ? Number(cc.amount ?? ch.amount) : 0,
    source: cc.source
      ? {
          brand: String(cc.source.brand ?? ''),
          first6: String(cc.source.first6 ?? ''),
          last4: String(cc.source.last4 ?? ''),
          exp_month: String(cc.source.exp_month ?? ''),
          exp_year: String(cc.source.exp_year ?? ''),
        }
      : null,
    clover: { charge_id: cc.id, ref_num: str(cc.ref_num), auth_code: str(cc.auth_code), order_id: str(cc.order) },
  };
}
