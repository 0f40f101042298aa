/**
 * Checkout sessions: the server fixes the amount with its secret key; the shopper's browser pays
 * it with the publishable key, the session's `client_secret` and a `clv_` token. A pay records its
 * charge in the same transaction that locks the session to it (`pay_lock`, conditioned on the
 * session being open and unlocked), so of any number of concurrent pays one reaches Clover. The
 * lock holds until the charge is resolved on evidence: a success makes the session `paid`, a
 * decline or refusal unlocks it for another card, and an unknown outcome keeps it locked — a
 * second card can never be charged while the first may have been. Sessions expire in storage
 * (TTL) a week after they expire, unless paid or locked.
 *
 * Card testing (docs/money.md): a session counts its declines (`declines`, added in the write that
 * unlocks it) and takes the lock only while it has fewer than SESSION_MAX_DECLINES, so a session
 * sends at most that many declined cards to Clover, whatever the concurrency; after that it answers
 * 409 `session_blocked`. A pay from a publishable key is also checked against the decline velocity
 * of its key and of the shopper's IP (./velocity.ts) before anything is claimed or sent.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { dynamo } from '../aws';
import { config } from '../config';
import { hooks } from '../hooks';
import { ApiError, conflict, notFound } from '../http/errors';
import { findKey } from '../idempotency';
import { newId, randomString } from '../ids';
import { emitMetric } from '../metrics';
import { secretsEqual } from '../secure-compare';
import { pk, sk } from '../store/keys';
import { type ChargeRecord, getCharge, getSession, type SessionRecord } from '../store/ledger';
import { type ClaimRef, createChargeOnce, SESSION_RETENTION_S } from './charges';
import { checkVelocity, type VelocitySubject } from './velocity';

export const SESSION_LIFETIME_MS = 24 * 3600 * 1000;

export interface NewSession {
  amount: number;
  currency: string;
  description: string | null;
  external_reference_id: string | null;
  capture: boolean;
}

export async function createSession(merchantId: string, input: NewSession, now = hooks.now()): Promise<SessionRecord> {
  const id = newId('cs', now);
  const expires = now + SESSION_LIFETIME_MS;
  const record: SessionRecord = {
    pk: pk.merchant(merchantId),
    sk: sk.session(id),
    object: 'checkout_session',
    id,
    merchant_id: merchantId,
    client_secret: `${id}_secret_${randomString(24)}`,
    ...input,
    status: 'open',
    charge: null,
    expires_at: new Date(expires).toISOString(),
    expires_at_epoch: Math.floor(expires / 1000) + SESSION_RETENTION_S,
    created: new Date(now).toISOString(),
  };
  await dynamo.send(
    new PutCommand({ TableName: config.tableName, Item: record, ConditionExpression: 'attribute_not_exists(pk)' }),
  );
  return record;
}

/** A session with the charge that paid it (if any), to show what became of the payment. */
export async function sessionWithCharge(
  merchantId: string,
  id: string,
): Promise<{ session: SessionRecord; charge: ChargeRecord | null } | null> {
  const session = await getSession(merchantId, id);
  if (!session) return null;
  const charge = session.charge ? await getCharge(merchantId, session.charge) : null;
  return { session, charge };
}

function assertOpen(s: SessionRecord, now: number): void {
  if (s.status !== 'open' || Date.parse(s.expires_at) <= now) {
    throw conflict('session_not_open', `This checkout session is ${s.status === 'open' ? 'expired' : s.status}.`);
  }
  if (isBlocked(s)) {
    emitMetric('CardTestingBlocked');
    throw sessionBlocked();
  }
}

/** Pure: the session has taken all the declines it may. */
export const isBlocked = (s: Pick<SessionRecord, 'declines'>, max = config.sessionMaxDeclines): boolean =>
  (s.declines ?? 0) >= max;

export const sessionBlocked = (): ApiError =>
  conflict(
    'session_blocked',
    'This checkout session has had too many declined payments and takes no more; start a new checkout.',
  );

export async function paySession(
  ref: ClaimRef,
  sessionId: string,
  input: { client_secret: string; source: string; forwardedFor: string; velocity?: VelocitySubject },
  ensureMerchant: () => Promise<unknown>,
): Promise<APIGatewayProxyResult> {
  const now = hooks.now();
  const [prior, session] = await Promise.all([
    findKey(ref.merchantId, ref.clientKey, ref.hash, now),
    getSession(ref.merchantId, sessionId),
  ]);
  // A wrong client_secret is answered exactly like a missing session.
  if (!session || !secretsEqual(input.client_secret, session.client_secret)) throw notFound('checkout session');
  // An answered pay is replayed (an unresolved one carried on) even once the session has moved on.
  if (!prior) {
    assertOpen(session, now);
    if (session.pay_lock) throw paymentInProgress(session.pay_lock);
    if (input.velocity) await checkVelocity(input.velocity, now);
  }
  return createChargeOnce(
    ref,
    {
      source: input.source,
      amount: session.amount,
      currency: session.currency,
      capture: session.capture,
      description: session.description,
      external_reference_id: session.external_reference_id,
      forwardedFor: input.forwardedFor,
      ...(input.velocity ? { velocity: input.velocity } : {}),
    },
    ensureMerchant,
    {
      id: session.id,
      refused: async () => {
        const fresh = await getSession(ref.merchantId, sessionId);
        if (!fresh) throw notFound('checkout session');
        assertOpen(fresh, hooks.now());
        throw paymentInProgress(fresh.pay_lock);
      },
    },
  );
}

const paymentInProgress = (charge: string | undefined) =>
  new ApiError(
    409,
    'invalid_request_error',
    'session_payment_in_progress',
    'Another payment of this checkout session is under way.',
    {
      retryAfter: 1,
      ...(charge ? { charge } : {}),
    },
  );
