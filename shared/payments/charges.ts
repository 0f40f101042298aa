/**
 * Creating a charge, exactly once (docs/money.md). The writes, in order:
 *
 *  1. the idempotency key is claimed (one conditional put, naming the charge's id);
 *  2. the charge is recorded `pending`, leased to this request and listed in the pending index —
 *     before Clover is called, so no charge can exist at Clover without a record here (a session
 *     pay locks its session in the same transaction);
 *  3. Clover is called with a key derived from the charge's id and the id in `metadata`;
 *  4. the outcome is written — only on evidence (./evidence.ts); otherwise the charge stays pending
 *     and a retry with the same key, or the reconciler, resolves it.
 * A successful charge costs five write units, plus one for its turn in the Clover rate budget.
 */
import { PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { dynamo } from '../aws';
import { takeTurn } from '../clover/budget';
import { str } from '../clover/scl';
import { config } from '../config';
import { hooks } from '../hooks';
import { claimKey, releaseKey } from '../idempotency';
import { newId } from '../ids';
import { emitMetric } from '../metrics';
import { pk, sk } from '../store/keys';
import { type CardSummary, type ChargeRecord, getCharge } from '../store/ledger';
import { pendingKeys } from '../store/pending';
import { chargeAnswer } from './answers';
import { lookupCharge, sendCharge, waitBudget } from './clover-calls';
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
import { countDecline, type VelocitySubject } from './velocity';

export interface NewCharge {
  source: string;
  amount: number;
  currency: string;
  capture: boolean;
  description: string | null;
  external_reference_id: string | null;
  forwardedFor: string;
  /** Publishable pays: whose decline velocity a decline counts against. */
  velocity?: VelocitySubject;
}

export interface ClaimRef {
  merchantId: string;
  routeKey: string;
  clientKey: string;
  hash: string;
  requestId: string;
}

/** A session pay: the session it locks, and what a failed lock means. */
export interface SessionLock {
  readonly id: string;
  /** Thrown when the session cannot be locked (not open, or another pay under way). */
  readonly refused: () => Promise<never>;
}

/** Sessions whose pay failed keep this long in storage after they expire (TTL), then go. */
export const SESSION_RETENTION_S = 7 * 24 * 3600;

export const chargeKind: Kind<ChargeRecord> = {
  op: 'charge',
  load: getCharge,
  expect: (r) => ({ op: 'charge', ourId: r.id, amount: r.amount, currency: r.currency, capture: r.capture }),
  // A `clv_` token is single-use at Clover: a second send can never make a second charge.
  duplicateSafe: (r) => r.source_token.startsWith('clv_'),
  chargeId: (r) => r.id,
  send: sendCharge,
  lookup: lookupCharge,
  async resolve(r, res, cond) {
    const names: Record<string, string> = { '#s': 'status' };
    const values: Record<string, unknown> = {
      ':pending': 'pending',
      ':attention': 'needs_attention',
      ':rid': cond.requestId,
      ...(cond.attempt !== undefined ? { ':attempt': cond.attempt } : {}),
    };
    let set: string[];
    let next: ChargeRecord;
    if (res.kind === 'succeeded') {
      const o = res.object;
      const captured = r.capture;
      const source = cardOf(o.source);
      const clover = {
        charge_id: String(o.id),
        ref_num: str(o.ref_num),
        auth_code: str(o.auth_code),
        order_id: str(o.order),
      };
      next = {
        ...r,
        status: 'succeeded',
        captured,
        amount_captured: captured ? r.amount : 0,
        refundable_remaining: r.amount,
        source,
        clover,
      };
      set = [
        '#s = :succeeded',
        'captured = :captured',
        'amount_captured = :ac',
        'refundable_remaining = :rr',
        '#src = :src',
        'clover = :clover',
      ];
      names['#src'] = 'source';
      Object.assign(values, {
        ':succeeded': 'succeeded',
        ':captured': captured,
        ':ac': next.amount_captured,
        ':rr': r.amount,
        ':src': source,
        ':clover': clover,
      });
    } else {
      const clover = { ...r.clover, charge_id: res.cloverChargeId ?? r.clover.charge_id };
      next = {
        ...r,
        status: 'failed',
        failure_code: res.answer.code,
        failure_message: res.answer.message,
        decline_code: res.declineCode ?? null,
        answer: res.answer,
        clover,
      };
      set = ['#s = :failed', 'failure_code = :fc', 'failure_message = :fm', 'answer = :answer', 'clover = :clover'];
      Object.assign(values, {
        ':failed': 'failed',
        ':fc': res.answer.code,
        ':fm': res.answer.message,
        ':answer': res.answer,
        ':clover': clover,
      });
      if (res.declineCode) {
        set.push('decline_code = :dc');
        values[':dc'] = res.declineCode;
      }
    }
    set.push('resolved_by = :rid');
    delete next.lease_owner;
    delete next.pending_shard;
    delete next.pending_due;
    const update = {
      TableName: config.tableName,
      Key: { pk: r.pk, sk: r.sk },
      UpdateExpression: `SET ${set.join(', ')} REMOVE lease_owner, pending_shard, pending_due`,
      ConditionExpression: `#s IN (:pending, :attention)${cond.attempt !== undefined ? ' AND attempt = :attempt' : ''}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
    if (!r.checkout_session) {
      await dynamo.send(new UpdateCommand(update));
    } else {
      const outcome = res.kind === 'succeeded' ? 'paid' : res.declined ? 'declined' : 'refused';
      await dynamo.send(
        new TransactWriteCommand({
          TransactItems: [{ Update: update }, { Update: sessionOutcome(r, outcome, cond.at) }],
        }),
      );
    }
    // The outcome is written once per charge (conditioned on it being unresolved): so is this.
    if (res.kind === 'failed' && res.declined) {
      emitMetric('CardDeclines');
      if (r.velocity) await countDecline(r.velocity, cond.at);
    }
    return next;
  },
  answer: async (r) => chargeAnswer(r),
};

/**
 * A checkout session's charge resolved: paid on success; unlocked (and set to expire in storage) on
 * a failure, a decline counted in the same write (card testing: the lock's condition reads it).
 */
function sessionOutcome(ch: ChargeRecord, outcome: 'paid' | 'declined' | 'refused', at: number) {
  const Key = { pk: pk.merchant(ch.merchant_id), sk: sk.session(ch.checkout_session ?? '') };
  if (outcome === 'paid') {
    return {
      TableName: config.tableName,
      Key,
      UpdateExpression: 'SET #s = :paid, charge = :c REMOVE pay_lock',
      ConditionExpression: 'pay_lock = :c',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':paid': 'paid', ':c': ch.id },
    };
  }
  return {
    TableName: config.tableName,
    Key,
    UpdateExpression: `SET expires_at_epoch = :ttl${outcome === 'declined' ? ' ADD declines :one' : ''} REMOVE pay_lock`,
    ConditionExpression: 'pay_lock = :c',
    ExpressionAttributeValues: {
      ':c': ch.id,
      ':ttl': Math.floor(at / 1000) + SESSION_RETENTION_S,
      ...(outcome === 'declined' ? { ':one': 1 } : {}),
    },
  };
}

function cardOf(source: unknown): CardSummary | null {
  if (typeof source !== 'object' || source === null) return null;
  const s = source as Record<string, unknown>;
  return {
    brand: String(s.brand ?? ''),
    first6: String(s.first6 ?? ''),
    last4: String(s.last4 ?? ''),
    exp_month: String(s.exp_month ?? ''),
    exp_year: String(s.exp_year ?? ''),
  };
}

/**
 * POST /v1/charges and session pays. `ensureMerchant` runs after a replay has been ruled out, so
 * an answered request is replayed even when the merchant's status has changed since.
 */
export async function createChargeOnce(
  ref: ClaimRef,
  input: NewCharge,
  ensureMerchant: () => Promise<unknown>,
  session?: SessionLock,
): Promise<APIGatewayProxyResult> {
  const now = hooks.now();
  const id = newId('ch', now);
  const claimed = await claimKey(ref.merchantId, ref.clientKey, ref.hash, 'charge', sk.charge(id), now);
  if (claimed.kind === 'existing') {
    return resume({
      kind: chargeKind,
      merchantId: ref.merchantId,
      requestId: ref.requestId,
      key: claimed.record,
      ensureMerchant,
      recreate: (existingId) => startCharge(ref, input, existingId, ensureMerchant, session),
    });
  }
  return startCharge(ref, input, id, ensureMerchant, session);
}

async function startCharge(
  ref: ClaimRef,
  input: NewCharge,
  id: string,
  ensureMerchant: () => Promise<unknown>,
  session?: SessionLock,
): Promise<APIGatewayProxyResult> {
  await hooks.step('key_claimed', id);
  const now = hooks.now();
  const deadline = now + config.cloverTimeoutMs;
  try {
    await ensureMerchant();
    await takeTurn(ref.merchantId, waitBudget(deadline));
  } catch (e) {
    await releaseKey(ref.merchantId, ref.clientKey, sk.charge(id));
    throw e;
  }
  const record = newChargeRecord(ref, input, id, now, session?.id ?? null);
  try {
    await recordCharge(record, now);
  } catch (e) {
    // The write may have happened: name the charge, which a retry with the same key carries on.
    if (!isConditionFailure(e) && !isTransactionConflict(e)) throw pendingFailure(e, id);
    await releaseKey(ref.merchantId, ref.clientKey, sk.charge(id));
    if (session) return session.refused();
    throw e;
  }
  await hooks.step('recorded', id);
  const driven = await drive(chargeKind, record, {
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

export function newChargeRecord(
  ref: ClaimRef,
  input: NewCharge,
  id: string,
  now: number,
  checkoutSession: string | null,
): ChargeRecord {
  return {
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
    checkout_session: checkoutSession,
    source_token: input.source,
    forwarded_for: input.forwardedFor,
    source: null,
    failure_code: null,
    failure_message: null,
    ...(input.velocity ? { velocity: { key: input.velocity.key, ip: input.velocity.ip } } : {}),
    clover: { charge_id: null, ref_num: null, auth_code: null, order_id: null },
    created: new Date(now).toISOString(),
    client_key: ref.clientKey,
    attempt: 1,
    lease_owner: ref.requestId,
    lease_until: now + CLAIM_LEASE_MS,
    ...pendingKeys(id, now + RECONCILE_GRACE_MS, now),
  };
}

/** Step 2: the charge, pending; for a session pay, in one transaction with the session's lock. */
async function recordCharge(record: ChargeRecord, now: number): Promise<void> {
  const put = {
    TableName: config.tableName,
    Item: record,
    ConditionExpression: 'attribute_not_exists(pk)',
  };
  if (!record.checkout_session) {
    await dynamo.send(new PutCommand(put));
    return;
  }
  await dynamo.send(
    new TransactWriteCommand({
      TransactItems: [
        { Put: put },
        {
          Update: {
            TableName: config.tableName,
            Key: { pk: record.pk, sk: sk.session(record.checkout_session) },
            // Locked to this charge until it is resolved; kept in storage meanwhile (no TTL). Only
            // while it has declines left: the lock and the decline count are one item, so of any
            // number of concurrent pays no more than SESSION_MAX_DECLINES ever reach Clover declined.
            UpdateExpression: 'SET pay_lock = :c REMOVE expires_at_epoch',
            ConditionExpression:
              '#s = :open AND attribute_not_exists(pay_lock) AND expires_at > :now AND (attribute_not_exists(declines) OR declines < :maxd)',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: {
              ':c': record.id,
              ':open': 'open',
              ':now': new Date(now).toISOString(),
              ':maxd': config.sessionMaxDeclines,
            },
          },
        },
      ],
    }),
  );
}
