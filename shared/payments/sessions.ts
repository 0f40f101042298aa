/**
 * Checkout sessions: the server fixes the amount with its secret key; the shopper's browser pays
 * it with the publishable key, the session's `client_secret` and a `clv_` token. The first pay's
 * claim transaction also locks the session to its charge (`pay_lock`, conditioned on the session
 * being open and unlocked), so of any number of concurrent pays one reaches Clover; the lock is
 * released by a decline (the session stays open) and turned into `paid` by a success.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { dynamo } from '../aws';
import { config } from '../config';
import { ApiError, conflict, notFound } from '../http/errors';
import { LedgerConditionFailed, priorAttempt } from '../idempotency';
import { newId, randomString } from '../ids';
import { secretsEqual } from '../secure-compare';
import { pk, sk } from '../store/keys';
import { getSession, type SessionRecord } from '../store/ledger';
import { type ClaimRef, createChargeOnce } from './charges';

export const SESSION_LIFETIME_MS = 24 * 3600 * 1000;

export interface NewSession {
  amount: number;
  currency: string;
  description: string | null;
  external_reference_id: string | null;
  capture: boolean;
}

export async function createSession(merchantId: string, input: NewSession, now = new Date()): Promise<SessionRecord> {
  const id = newId('cs', now.getTime());
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
    expires_at: new Date(now.getTime() + SESSION_LIFETIME_MS).toISOString(),
    created: now.toISOString(),
  };
  await dynamo.send(
    new PutCommand({ TableName: config.tableName, Item: record, ConditionExpression: 'attribute_not_exists(pk)' }),
  );
  return record;
}

function assertOpen(s: SessionRecord, now: number): void {
  if (s.status !== 'open' || Date.parse(s.expires_at) <= now) {
    throw conflict('session_not_open', `This checkout session is ${s.status === 'open' ? 'expired' : s.status}.`);
  }
}

export async function paySession(
  ref: ClaimRef,
  sessionId: string,
  input: { client_secret: string; source: string; forwardedFor: string },
): Promise<APIGatewayProxyResult> {
  // An answered pay is replayed even once the session is paid; see priorAttempt.
  const prior = await priorAttempt(ref.merchantId, ref.clientKey, ref.hash);
  if (prior?.kind === 'replay') return prior.response;
  const session = await getSession(ref.merchantId, sessionId);
  // A wrong client_secret is answered exactly like a missing session.
  if (!session || !secretsEqual(input.client_secret, session.client_secret)) throw notFound('checkout session');
  const now = Date.now();
  const pending = session.pay_lock !== undefined || prior !== null;
  if (!pending) assertOpen(session, now);
  try {
    return await createChargeOnce(
      {
        ...ref,
        extraItems: (chargeId) => [
          {
            Update: {
              TableName: config.tableName,
              Key: { pk: session.pk, sk: session.sk },
              UpdateExpression: 'SET pay_lock = :c',
              ConditionExpression: '#s = :open AND attribute_not_exists(pay_lock) AND expires_at > :now',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: { ':c': chargeId, ':open': 'open', ':now': new Date(now).toISOString() },
            },
          },
        ],
      },
      {
        source: input.source,
        amount: session.amount,
        currency: session.currency,
        capture: session.capture,
        description: session.description,
        external_reference_id: session.external_reference_id,
        forwardedFor: input.forwardedFor,
        checkoutSession: { id: session.id },
      },
    );
  } catch (e) {
    if (!(e instanceof LedgerConditionFailed)) throw e;
    const fresh = (await getSession(ref.merchantId, sessionId))!;
    assertOpen(fresh, Date.now());
    throw new ApiError(
      409,
      'invalid_request_error',
      'session_payment_in_progress',
      'Another payment of this checkout session is under way.',
      { retryAfter: 1 },
    );
  }
}
